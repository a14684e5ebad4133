// npm ws as an echo server with permessage-deflate, for wsraise's client.
// Usage: node ws_deflate_server.js 'PERMESSAGEDEFLATE_JSON'
// Prints {"port":N} once listening on 127.0.0.1, then one JSON line per
// connection once it closes: the extension offered and agreed, the
// parameters ws accepted (its internal state, from which it sizes its
// zlib windows), the messages echoed, the errors. Exits when its standard input closes, or
// after two minutes at most.
"use strict";
const { WebSocketServer } = require("ws");
const perMessageDeflate = JSON.parse(process.argv[2]);

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate, maxPayload: 64 << 20 });
let lastResponse = "";
wss.on("headers", (headers) => {
  const h = headers.find((l) => l.toLowerCase().startsWith("sec-websocket-extensions:"));
  lastResponse = h ? h.slice(h.indexOf(":") + 1).trim() : "";
});
wss.on("listening", () => {
  process.stdout.write(JSON.stringify({ port: wss.address().port }) + "\n");
});
wss.on("connection", (ws, req) => {
  const r = { offer: req.headers["sec-websocket-extensions"] || "", response: lastResponse,
    extensions: ws.extensions, messages: 0, errors: [] };
  const pmd = ws._extensions["permessage-deflate"];
  r.params = pmd ? pmd.params : null;
  ws.on("error", (e) => r.errors.push(String(e.message)));
  ws.on("message", (data, isBinary) => {
    r.messages++;
    ws.send(data, { binary: isBinary });
  });
  ws.on("close", (code) => {
    r.code = code;
    process.stdout.write(JSON.stringify(r) + "\n");
  });
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(2), 120000).unref();
