// npm ws as a client with permessage-deflate, against a wsraise server.
// Usage: node ws_deflate_client.js ws://127.0.0.1:PORT/echo DIR 'PERMESSAGEDEFLATE_JSON'
// Sends every file of DIR in name order (*.bin as binary, the rest as
// text), all at once, then reads the echoes in order and compares them.
// Prints one JSON object with what it saw, extensions included, and the
// permessage-deflate parameters ws accepted: its internal state, from
// which it sizes its zlib windows.
"use strict";
const fs = require("fs");
const path = require("path");
const WebSocket = require("ws");
const [url, dir, deflateJSON] = process.argv.slice(2);

function messages() {
  return fs.readdirSync(dir).sort().map((name) => {
    const data = fs.readFileSync(path.join(dir, name));
    return name.endsWith(".bin") ? data : data.toString("utf8");
  });
}

const msgs = messages();
const r = { sent: msgs.length, matched: 0, mismatches: [], errors: [] };
const ws = new WebSocket(url, { perMessageDeflate: JSON.parse(deflateJSON), maxPayload: 64 << 20 });
setTimeout(() => { r.errors.push("timed out"); done(); }, 60000).unref();
let i = 0;
ws.on("upgrade", (res) => { r.response = res.headers["sec-websocket-extensions"] || ""; });
ws.on("error", (e) => r.errors.push(String(e.message)));
ws.on("open", () => {
  r.extensions = ws.extensions;
  const pmd = ws._extensions["permessage-deflate"];
  r.params = pmd ? pmd.params : null;
  for (const m of msgs) ws.send(m, { binary: typeof m !== "string" });
});
ws.on("message", (data, isBinary) => {
  const want = msgs[i];
  const ok = typeof want === "string"
    ? !isBinary && data.toString("utf8") === want
    : isBinary && Buffer.compare(data, want) === 0;
  if (ok) r.matched++; else r.mismatches.push(i);
  i++;
  if (i === msgs.length) ws.close(1000, "done");
});
ws.on("close", (code, reason) => { r.code = code; r.reason = reason.toString(); done(); });

function done() {
  process.stdout.write(JSON.stringify(r) + "\n", () => process.exit(0));
}
