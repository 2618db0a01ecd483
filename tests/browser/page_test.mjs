#!/usr/bin/env node
// Drives headless Chromium against a running `oneclass serve` and checks its page.
//
//   node page_test.mjs BASE_URL IMAGE_FILE SCREENSHOT_PNG [flagged|normal|any]
//   EXPECT_ERROR=1 node page_test.mjs BASE_URL NOT_AN_IMAGE SCREENSHOT_PNG
//
// BASE_URL may carry ?token=...; the page must then send it as a Bearer header.
// Exit codes: 0 pass, 1 failed check, 2 bad usage, 77 skip (no playwright-core or
// no launchable Chromium), so CTest can report a skip rather than a silent pass.

import { existsSync } from "node:fs";
import path from "node:path";

const WAIT_MS = 30000;

function skip(msg) {
  process.stderr.write(`SKIP: ${msg}\n`);
  process.exit(77);
}

class CheckFailed extends Error {}
function check(cond, msg) {
  if (!cond) throw new CheckFailed(msg);
}

const [baseUrl, imageFile, shotFile, expect = "any"] = process.argv.slice(2);
const expectError = process.env.EXPECT_ERROR === "1";
if (!baseUrl || !imageFile || !shotFile || !["flagged", "normal", "any"].includes(expect)) {
  process.stderr.write("usage: node page_test.mjs BASE_URL IMAGE_FILE SCREENSHOT_PNG [flagged|normal|any]\n");
  process.exit(2);
}
if (!existsSync(imageFile)) {
  process.stderr.write(`no such file: ${imageFile}\n`);
  process.exit(2);
}
const token = new URL(baseUrl).searchParams.get("token");

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  skip(`cannot import playwright-core (run: npm install --prefix tests/browser): ${e.message.split("\n")[0]}`);
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
    timeout: WAIT_MS,
  });
} catch (e) {
  skip(`cannot launch Chromium: ${e.message.split("\n")[0]}`);
}

// The page's own text for failures, so a red test says what the person would have seen.
const errorText = (page) => page.locator("#error").textContent().then((t) => (t || "").trim()).catch(() => "");

let page;
async function run() {
  // Phone-sized viewport: the screenshot is how we eyeball the mobile layout.
  const context = await browser.newContext({ viewport: { width: 412, height: 860 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  // Every API call must carry the token as a header, and never in its URL.
  const apiCalls = [];
  page.on("request", (req) => {
    const p = new URL(req.url()).pathname;
    if (/\/(model|score)$/.test(p)) apiCalls.push({ url: req.url(), auth: req.headers()["authorization"] });
  });

  const nav = await page.goto(baseUrl, { waitUntil: "load", timeout: WAIT_MS });
  check(nav && nav.ok(), `GET ${baseUrl} answered ${nav ? nav.status() : "nothing"}`);

  // Header is filled once the model request has settled either way.
  await page.waitForFunction(() => document.getElementById("model")?.dataset.loaded !== "false", null, { timeout: WAIT_MS });
  const loaded = await page.locator("#model").getAttribute("data-loaded");
  check(loaded === "true", `model header did not load: ${await errorText(page)}`);
  const modelName = (await page.locator("#model-name").textContent()).trim();
  check(modelName.length > 0, "model name is empty");

  // The score answer, or null when the request failed at the network level.
  const isScore = (req) => req.method() === "POST" && /\/score$/.test(new URL(req.url()).pathname);
  const scoreResp = new Promise((resolve) => {
    page.on("response", (r) => { if (isScore(r.request())) resolve(r); });
    page.on("requestfailed", (req) => { if (isScore(req)) resolve(null); });
  });
  await page.setInputFiles("#file", imageFile);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: WAIT_MS });
  const state = await page.evaluate(() => document.body.dataset.state);
  const resp = await Promise.race([scoreResp, new Promise((r) => setTimeout(() => r(undefined), WAIT_MS).unref())]);
  check(resp !== undefined, "page never sent POST score");

  for (const c of apiCalls) {
    check(!/[?&]token=/.test(c.url), `token leaked into a request URL: ${c.url}`);
    if (token) check(c.auth === `Bearer ${token}`, `request ${c.url} carried Authorization ${JSON.stringify(c.auth)}, want Bearer token`);
  }
  check(apiCalls.some((c) => /\/model$/.test(new URL(c.url).pathname)), "page never requested model");

  let out;
  if (expectError) {
    check(state === "error", `expected state "error" for a non-image upload, got "${state}" (HTTP ${resp ? resp.status() : "none"})`);
    const msg = await errorText(page);
    check(msg.length > 0, "#error is empty");
    check(await page.locator("#error").isVisible(), "#error is not visible");
    check(await page.locator("#error").getAttribute("role") === "alert", "#error lacks role=alert");
    check(!(await page.locator("#result").isVisible()), "verdict area still shown next to the error");
    out = { state, status: resp ? resp.status() : null, error: msg };
  } else {
    check(state === "done", `scoring ended in state "${state}": ${await errorText(page)}`);
    check(resp, "score request failed although the page says done");
    const body = await resp.json();
    const verdict = (await page.locator("#verdict").textContent()).trim();
    const flaggedAttr = await page.locator("#verdict").getAttribute("data-flagged");
    const score = Number((await page.locator("#score").textContent()).trim());
    const threshold = Number((await page.locator("#threshold").textContent()).trim());

    check(Number.isFinite(score), "#score is not a number");
    check(Number.isFinite(threshold), "#threshold is not a number");
    check(verdict === "Anomaly" || verdict === "Normal", `unexpected verdict text "${verdict}"`);
    check(flaggedAttr === String(verdict === "Anomaly"), `verdict "${verdict}" disagrees with data-flagged="${flaggedAttr}"`);
    check(flaggedAttr === String(body.flagged === true), `page shows flagged=${flaggedAttr}, server said ${body.flagged}`);
    // Raw numbers from the answer: the 4-digit display can't decide near-ties.
    if (body.score > body.threshold) check(verdict === "Anomaly", `score ${body.score} > threshold ${body.threshold} but verdict "${verdict}"`);
    if (body.score < body.threshold) check(verdict === "Normal", `score ${body.score} < threshold ${body.threshold} but verdict "${verdict}"`);
    check(Math.abs(score - body.score) <= 1e-3 * Math.abs(body.score) + 1e-12, `#score ${score} does not show ${body.score}`);
    check(Math.abs(threshold - body.threshold) <= 1e-3 * Math.abs(body.threshold) + 1e-12, `#threshold ${threshold} does not show ${body.threshold}`);

    const overlay = typeof body.overlay_png_base64 === "string" && body.overlay_png_base64.length > 0;
    if (overlay) {
      await page.waitForFunction(() => { const i = document.getElementById("overlay"); return i.complete; }, null, { timeout: WAIT_MS });
      check(await page.locator("#overlay").isVisible(), "overlay image is not shown");
      const w = await page.locator("#overlay").evaluate((i) => i.naturalWidth);
      check(w > 0, "overlay image did not decode (naturalWidth 0)");
    } else {
      check(!(await page.locator("#overlay").isVisible()), "overlay shown although the answer had none");
      check(await page.locator("#nomap").isVisible(), "no 'no heat map' note although the answer had no overlay");
    }
    if (expect === "flagged") check(verdict === "Anomaly", `expected Anomaly, got ${verdict}`);
    if (expect === "normal") check(verdict === "Normal", `expected Normal, got ${verdict}`);
    out = { verdict, flagged: flaggedAttr === "true", score, threshold, overlay, model: modelName };
  }
  check(pageErrors.length === 0, `page script errors: ${pageErrors.join("; ")}`);

  await page.screenshot({ path: path.resolve(shotFile), fullPage: true });
  process.stdout.write(JSON.stringify(out) + "\n");
}

try {
  await run();
  process.exitCode = 0;
} catch (e) {
  process.stderr.write(`FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}\n`);
  process.exitCode = 1;
  // A screenshot of the failure helps more than the message alone.
  if (page) await page.screenshot({ path: path.resolve(shotFile), fullPage: true }).catch(() => {});
} finally {
  await browser.close().catch(() => {});
}
