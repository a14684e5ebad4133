// Drives Debian's Chromium with playwright-core (never a downloaded browser):
// a plain new WebSocket(url), opened from the demo page's origin, must
// report the close code and reason of /ws and /custom with wasClean true.
// The page itself is demo_page.js's.
// Usage: node browser.js http://127.0.0.1:PORT
"use strict";
const { chromium } = require("playwright-core");
const base = process.argv[2];

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
    const results = { plain: [] };
    for (const path of ["/ws", "/custom"]) {
      results.plain.push(await page.evaluate((url) => new Promise((resolve) => {
        const ws = new WebSocket(url);
        ws.onclose = (ev) => resolve({ url, code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
      }), base.replace(/^http/, "ws") + path));
    }
    process.stdout.write(JSON.stringify(results) + "\n");
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
