// Opens a revplan HTML report in headless Chromium and fails on anything a
// reader would hit: console errors, page errors, dialogs (an injected
// script), any request other than the page itself, a page wider than a
// laptop screen. Saves screenshots (laptop and print media) and a PDF.
//
// usage: node check-report.mjs REPORT_DIR OUT_DIR
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's package).

import { chromium } from "playwright-core";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
  console.error("usage: node check-report.mjs REPORT_DIR OUT_DIR");
  process.exit(2);
}
const page_path = resolve(dir, "index.html");
if (!existsSync(page_path)) {
  console.error(`no report at ${page_path}`);
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const url = pathToFileURL(page_path).href;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const problems = [];
const requests = [];
const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  // Every request is recorded; only the page itself may load.
  await context.route("**/*", (route) => {
    const u = route.request().url();
    requests.push(u);
    if (u === url) {
      route.continue();
    } else {
      problems.push(`request made: ${u}`);
      route.abort();
    }
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (r.url() !== url) problems.push(`request failed: ${r.url()}`);
  });
  page.on("dialog", async (d) => {
    problems.push(`dialog opened (injected script?): ${d.message()}`);
    await d.dismiss();
  });
  const response = await page.goto(url, { waitUntil: "load" });
  if (!response || !response.ok()) problems.push(`page did not load: ${response && response.status()}`);

  const facts = await page.evaluate(() => ({
    title: document.title,
    h1: document.querySelector("h1")?.textContent ?? "",
    svgs: document.querySelectorAll("figure svg").length,
    scripts: document.querySelectorAll("script").length,
    images: document.querySelectorAll("img").length,
    sections: [...document.querySelectorAll("h2")].map((h) => h.textContent),
    injected: window.__xss ?? null,
    scroll_width: document.documentElement.scrollWidth,
    inner_width: window.innerWidth,
    // Every inline chart has laid out with a size.
    empty_svgs: [...document.querySelectorAll("figure svg")].filter(
      (s) => s.getBoundingClientRect().width < 200 || s.getBoundingClientRect().height < 100,
    ).length,
  }));
  if (facts.scripts > 0) problems.push(`${facts.scripts} <script> element(s) in the page`);
  if (facts.images > 0) problems.push(`${facts.images} <img> element(s) in the page`);
  if (facts.injected !== null) problems.push(`injected script ran: window.__xss = ${facts.injected}`);
  if (facts.svgs < 4) problems.push(`only ${facts.svgs} charts`);
  if (facts.empty_svgs > 0) problems.push(`${facts.empty_svgs} chart(s) laid out too small`);
  if (facts.scroll_width > facts.inner_width + 1) {
    problems.push(`the page is wider than the window: ${facts.scroll_width} > ${facts.inner_width}`);
  }
  await page.screenshot({ path: join(out, "report-laptop.png"), fullPage: false });
  await page.screenshot({ path: join(out, "report-full.png"), fullPage: true });
  await page.emulateMedia({ media: "print" });
  await page.screenshot({ path: join(out, "report-print.png"), fullPage: false });
  await page.pdf({ path: join(out, "report.pdf"), format: "A4", landscape: true, printBackground: true });
  writeFileSync(join(out, "facts.json"), JSON.stringify({ facts, requests, problems }, null, 2));
  console.log(JSON.stringify({ facts, requests: requests.length, problems }, null, 2));
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(`${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
