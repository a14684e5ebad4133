// Uses the demo page in Debian's Chromium (through playwright-core, never a
// downloaded browser) as a person would: finds each button by its label,
// clicks it, types into the echo box, sends, closes, clears the log. Prints
// what the page showed, as JSON, for TestDemoPage to check. With a second
// argument it saves a screenshot of the whole page there.
// Usage: node demo_page.js http://127.0.0.1:PORT [screenshot.png]
"use strict";
const { chromium } = require("playwright-core");
const [base, screenshot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 }, colorScheme: "light" });
    page.setDefaultTimeout(10000);
    const out = { cards: [], echo: {}, httpErrors: [], consoleErrors: [], pageErrors: [] };
    page.on("response", (r) => { if (r.status() >= 400) out.httpErrors.push(r.status() + " " + r.url()); });
    page.on("console", (m) => { if (m.type() === "error") out.consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => out.pageErrors.push(String(e)));
    await page.goto(base + "/");

    // What a card's result shows once its connection has closed.
    const result = (card) => card.locator(".result.ok, .result.bad").evaluate((el) => ({
      code: el.querySelector(".code").textContent,
      reason: el.querySelector(".reason").textContent,
      clean: el.querySelector(".clean").textContent,
      verdict: el.querySelector(".verdict").textContent,
      ok: el.classList.contains("ok"),
    }));
    const cardOf = (route) => page.locator(`.card[data-route="${route}"]`);

    for (const route of ["/ws", "/custom", "/reject", "/reject-visible"]) {
      await page.getByRole("button", { name: "Open " + route, exact: true }).click();
      out.cards.push({ route, ...(await result(cardOf(route))) });
    }

    // The echo box: typed, sent with Enter, then with the Send button.
    const input = page.getByLabel("Message");
    const reply = page.locator("#echo-reply");
    out.echo.sent = ["grüße from Chromium, é à ß", "second message"];
    out.echo.replies = [];
    await input.fill("");
    await input.pressSequentially(out.echo.sent[0]);
    await input.press("Enter");
    await page.waitForFunction((want) => document.getElementById("echo-reply").textContent === want, out.echo.sent[0]);
    out.echo.replies.push(await reply.textContent());
    await input.fill(out.echo.sent[1]);
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await page.waitForFunction((want) => document.getElementById("echo-reply").textContent === want, out.echo.sent[1]);
    out.echo.replies.push(await reply.textContent());
    await page.getByRole("button", { name: "Close", exact: true }).click();
    out.echo.close = await result(cardOf("/echo"));

    const icon = await page.evaluate(async () => {
      const r = await fetch("/favicon.ico");
      const img = document.querySelector("header img");
      return { status: r.status, type: r.headers.get("content-type"), rendered: img.complete && img.naturalWidth > 0 };
    });
    out.favicon = icon;
    out.log = await page.locator("#log").textContent();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    await page.getByRole("button", { name: "Clear log" }).click();
    out.logAfterClear = await page.locator("#log").textContent();
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
