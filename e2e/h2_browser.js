// Headless Chromium (Debian's, through playwright-core) loads a page over
// HTTPS from a server that speaks HTTP/2, and lets the page's script open
// its WebSockets (wss:// on the same origin). Chromium trusts the test's
// self-signed certificate only because of --ignore-certificate-errors.
// Usage: node h2_browser.js https://127.0.0.1:PORT
// Prints a JSON object: the page's results (see the page's runAll).
"use strict";
const { chromium } = require("playwright-core");
const base = process.argv[2];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
      "--disable-component-update", "--disable-sync", "--ignore-certificate-errors"],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30000);
    const out = { pageErrors: [] };
    page.on("pageerror", (e) => out.pageErrors.push(String(e)));
    const res = await page.goto(base + "/");
    out.pageStatus = res.status();
    out.results = await page.evaluate(() => window.runAll());
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
