// Opens WebSockets over HTTP/2 (RFC 8441) with Node's own http2 module,
// many streams on one session, and frames it encodes itself: an
// independent peer for wsraise's HTTP/2 server side.
// Usage: node h2_client.js https://127.0.0.1:PORT|http://127.0.0.1:PORT [streams]
// Prints one JSON object with the session's remote settings, one result
// per stream and the errors it saw.
"use strict";
const http2 = require("http2");
const crypto = require("crypto");

const base = process.argv[2];
const streams = Number(process.argv[3] || 100);
const LIMIT_MS = 60000; // the whole run is bounded

const OP_CONT = 0x0, OP_TEXT = 0x1, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa;

// encode builds one client frame (RFC 6455 section 5.2), always masked
// (section 5.3) with a fresh key.
function encode(fin, opcode, payload) {
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.alloc(2);
    head[1] = 0x80 | n;
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

// Decoder turns the bytes a server sends into frames. A server's frames
// are never masked (section 5.1) and, with no extension, have no RSV bit.
class Decoder {
  constructor() { this.buf = Buffer.alloc(0); }
  push(chunk) { this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk; }
  // next returns the next whole frame, null if more bytes are needed, or
  // throws on a frame a server may not send.
  next() {
    const b = this.buf;
    if (b.length < 2) return null;
    if (b[0] & 0x70) throw new Error("RSV bits set: 0x" + b[0].toString(16));
    if (b[1] & 0x80) throw new Error("a masked frame from the server");
    let n = b[1] & 0x7f, off = 2;
    if (n === 126) {
      if (b.length < 4) return null;
      n = b.readUInt16BE(2); off = 4;
    } else if (n === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("a 64-bit length too large");
      n = Number(big); off = 10;
    }
    if (b.length < off + n) return null;
    const frame = { fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload: b.subarray(off, off + n) };
    this.buf = b.subarray(off + n);
    return frame;
  }
}

// The messages of stream i; the Go test builds the same ones. Text only:
// a short one, one past 64 KiB (a 64-bit length, and more than HTTP/2's
// initial flow-control window), and a UTF-8 one sent in three fragments
// whose cuts fall inside characters.
function messages(i) {
  const big = Buffer.alloc(70000 + i);
  for (let k = 0; k < big.length; k++) big[k] = 0x61 + ((k * 7 + i) % 26);
  return [
    Buffer.from("hello from stream " + i),
    big,
    Buffer.from("κόσμε 𝄞 ".repeat(20) + i),
  ];
}

function runStream(session, i) {
  return new Promise((resolve) => {
    const r = { index: i, status: 0, echoes: [], pong: false, closeCode: 0, closeReason: "", ended: false, rstCode: null, errors: [] };
    const msgs = messages(i);
    const pingData = Buffer.from("ping " + i);
    const code = 4000 + i;
    let sentClose = false, finished = false;
    const finish = () => { if (!finished) { finished = true; resolve(r); } };

    const req = session.request({
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": base.startsWith("https:") ? "https" : "http",
      ":path": "/ws?stream=" + i,
      ":authority": new URL(base).host,
      "sec-websocket-version": "13",
    });
    req.on("error", (e) => r.errors.push("stream: " + e.message));
    req.on("close", () => { r.rstCode = req.rstCode; finish(); });
    req.on("end", () => { r.ended = true; });

    const dec = new Decoder();
    let parts = [], partOp = -1;
    const sendClose = () => {
      if (sentClose) return;
      sentClose = true;
      const p = Buffer.alloc(2 + Buffer.byteLength("stream " + i));
      p.writeUInt16BE(code, 0);
      p.write("stream " + i, 2);
      req.write(encode(true, OP_CLOSE, p));
    };
    const maybeClose = () => {
      if (r.echoes.length === msgs.length && r.pong) sendClose();
    };
    const onFrame = (f) => {
      switch (f.opcode) {
        case OP_TEXT:
        case OP_CONT: {
          if ((f.opcode === OP_TEXT) === (partOp !== -1)) throw new Error("a continuation out of place, opcode " + f.opcode);
          if (f.opcode === OP_TEXT) partOp = OP_TEXT;
          parts.push(Buffer.from(f.payload));
          if (!f.fin) return;
          const got = Buffer.concat(parts);
          parts = []; partOp = -1;
          const k = r.echoes.length;
          r.echoes.push(k < msgs.length && Buffer.compare(got, msgs[k]) === 0);
          maybeClose();
          return;
        }
        case OP_PONG:
          if (Buffer.compare(f.payload, pingData) !== 0) throw new Error("a pong with payload " + f.payload.toString());
          r.pong = true;
          maybeClose();
          return;
        case OP_PING:
          return; // the server does not ping here; nothing to answer
        case OP_CLOSE:
          if (!sentClose) throw new Error("the server closed first");
          r.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
          r.closeReason = f.payload.subarray(2).toString();
          req.end(); // our END_STREAM: nothing more comes from us
          return;
        default:
          throw new Error("an unexpected opcode " + f.opcode);
      }
    };

    req.on("response", (h) => {
      r.status = h[":status"];
      if (r.status !== 200) { req.close(); return; }
      // A whole message, then the big one, then the UTF-8 one in three
      // fragments with a ping between the first two: control frames may
      // come in the middle of a fragmented message (section 5.4).
      req.write(encode(true, OP_TEXT, msgs[0]));
      req.write(encode(true, OP_TEXT, msgs[1]));
      const u = msgs[2], cut = u.length >> 1;
      req.write(encode(false, OP_TEXT, u.subarray(0, 1)));
      req.write(encode(true, OP_PING, pingData));
      req.write(encode(false, OP_CONT, u.subarray(1, cut)));
      req.write(encode(true, OP_CONT, u.subarray(cut)));
    });
    req.on("data", (chunk) => {
      dec.push(chunk);
      try {
        for (let f = dec.next(); f !== null; f = dec.next()) onFrame(f);
      } catch (e) {
        r.errors.push("frames: " + e.message);
        req.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
  });
}

const report = { url: base, streams, remoteSettings: null, results: [], errors: [], timedOut: false };
let printed = false;
function done(code) {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(code));
}

const timer = setTimeout(() => {
  report.timedOut = true;
  report.errors.push("not done after " + LIMIT_MS + " ms");
  done(1);
}, LIMIT_MS);

const session = http2.connect(base, { rejectUnauthorized: false });
session.on("error", (e) => report.errors.push("session: " + e.message));
session.once("remoteSettings", async (st) => {
  report.remoteSettings = st;
  if (!st.enableConnectProtocol) {
    report.errors.push("the server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL");
    session.close();
    clearTimeout(timer);
    done(0);
    return;
  }
  const all = [];
  for (let i = 0; i < streams; i++) all.push(runStream(session, i));
  report.results = await Promise.all(all);
  session.close(() => { clearTimeout(timer); done(0); });
});
