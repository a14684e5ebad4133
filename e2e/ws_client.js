// Drives a wsraise demo server with the npm "ws" client, a strict peer: it
// fails the connection on invalid close codes, bad UTF-8 and framing errors.
// Usage: node ws_client.js ws://127.0.0.1:PORT
// Prints one JSON object with what it saw.
"use strict";
const WebSocket = require("ws");
const base = process.argv[2];

function closeOf(path) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path);
    const r = { path, errors: [] };
    ws.on("open", () => { r.opened = true; });
    ws.on("error", (e) => r.errors.push(String(e.message)));
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => { r.status = res.statusCode; r.body = body; req.destroy(); resolve(r); });
    });
    ws.on("close", (code, reason) => {
      r.code = code; r.reason = reason.toString(); resolve(r);
    });
  });
}

// Tricky messages: sizes at every length-encoding boundary, multi-byte
// UTF-8 (incl. 4-byte and U+FFFF, U+10FFFF), every byte value.
function messages() {
  const all = Buffer.alloc(256); for (let i = 0; i < 256; i++) all[i] = i;
  const out = [
    "", "hello", "héllo wörld ✓ 𝄞 \uFFFF \u{10FFFF}", "κόσμε".repeat(1000),
    all,
  ];
  for (const n of [1, 125, 126, 127, 65535, 65536, 1 << 20]) {
    const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
    out.push(b);
    out.push("x".repeat(n));
  }
  return out;
}

function echo() {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + "/echo");
    const msgs = messages();
    const r = { path: "/echo", sent: msgs.length, matched: 0, mismatches: [], errors: [] };
    let i = 0;
    ws.on("error", (e) => r.errors.push(String(e.message)));
    ws.on("open", () => { for (const m of msgs) ws.send(m, { binary: typeof m !== "string" }); });
    ws.on("message", (data, isBinary) => {
      const want = msgs[i];
      const ok = typeof want === "string"
        ? !isBinary && data.toString("utf8") === want
        : isBinary && Buffer.compare(data, want) === 0;
      if (ok) r.matched++; else r.mismatches.push(i);
      i++;
      if (i === msgs.length) ws.close(1000, "bye");
    });
    ws.on("close", (code, reason) => { r.code = code; r.reason = reason.toString(); resolve(r); });
  });
}

(async () => {
  const results = [];
  for (const p of ["/ws", "/custom", "/reject"]) results.push(await closeOf(p));
  results.push(await echo());
  // A refused handshake leaves ws's request socket referenced; exit
  // explicitly once the output is flushed.
  process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
})().catch((e) => { console.error(e); process.exit(1); });
