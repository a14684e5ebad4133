// Headless Chromium (Debian's, through playwright-core) against a wsraise
// server with permessage-deflate: the page fetches the messages listed in
// /m/index.json, sends them over a WebSocket to each path given, one after
// the other, and compares the echoes. Chromium always offers
// permessage-deflate.
// Usage: node browser_deflate.js http://127.0.0.1:PORT /path?query,/path2?query
// Prints a JSON object: for each path, what the page saw.
"use strict";
const { chromium } = require("playwright-core");
const base = process.argv[2];
const paths = process.argv[3].split(",");

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(base + "/");
    const results = {};
    for (const p of paths) results[p] = await page.evaluate(async (wsURL) => {
      const names = await (await fetch("/m/index.json")).json();
      const msgs = await Promise.all(names.map(async (n) => {
        const res = await fetch("/m/" + n);
        return n.endsWith(".bin") ? new Uint8Array(await res.arrayBuffer()) : await res.text();
      }));
      return await new Promise((resolve) => {
        const r = { sent: msgs.length, matched: 0, mismatches: [], errors: [] };
        const timer = setTimeout(() => { r.errors.push("timed out"); resolve(r); }, 60000);
        const ws = new WebSocket(wsURL);
        ws.binaryType = "arraybuffer";
        let i = 0;
        ws.onopen = () => {
          r.extensions = ws.extensions;
          for (const m of msgs) ws.send(m);
        };
        ws.onerror = () => r.errors.push("error event");
        ws.onmessage = (ev) => {
          const want = msgs[i];
          let ok;
          if (typeof want === "string") {
            ok = ev.data === want;
          } else {
            const got = ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : null;
            ok = got !== null && got.length === want.length && got.every((b, j) => b === want[j]);
          }
          if (ok) r.matched++; else r.mismatches.push(i);
          i++;
          if (i === msgs.length) ws.close(1000, "done");
        };
        ws.onclose = (ev) => {
          clearTimeout(timer);
          r.code = ev.code; r.wasClean = ev.wasClean;
          resolve(r);
        };
      });
    }, base.replace(/^http/, "ws") + p);
    process.stdout.write(JSON.stringify(results) + "\n");
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
