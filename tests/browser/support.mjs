// Shared setup of the browser tests: the running stack's addresses, Debian's Chromium
// driven by playwright-core (no downloaded browsers), and helpers to read the widget.

import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SCREENSHOTS = path.join(REPO, "test-artifacts", "screenshots");
const run = promisify(execFile);

/** GATEWAY_URL, DEMO_SITE_KEY, ... from the environment, else from .run/local.env (`make up`). */
export function stackEnv() {
  const values = {};
  const runDir = process.env.TANDEM_RUN_DIR || path.join(REPO, ".run");
  const file = path.join(runDir, "local.env");
  if (existsSync(file)) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) values[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
  }
  for (const key of ["GATEWAY_URL", "DEMO_SITE_KEY", "DEMO_SITE_ID"]) {
    if (process.env[key]) values[key] = process.env[key];
  }
  if (!values.GATEWAY_URL || !values.DEMO_SITE_KEY) {
    throw new Error("the browser tests need the running stack: run `make up` (GATEWAY_URL and DEMO_SITE_KEY unknown)");
  }
  values.GATEWAY_URL = values.GATEWAY_URL.replace(/\/$/, "");
  values.DEMO_SITE_ID ||= "demo";
  return values;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/**
 * A fresh browser context (its own localStorage, so its own conversation) on the demo page.
 * Records dialogs, page errors and the widget's websocket traffic for the assertions.
 */
export async function openDemo(browser, env, { locale = "en-US", viewport = { width: 1100, height: 800 } } = {}) {
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  const seen = { dialogs: [], errors: [], sockets: [], framesReceived: [] };
  page.on("dialog", (dialog) => {
    seen.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("websocket", (socket) => {
    seen.sockets.push(socket.url());
    socket.on("framereceived", (frame) => {
      try {
        seen.framesReceived.push(JSON.parse(String(frame.payload)));
      } catch {
        // not JSON: not a widget frame
      }
    });
  });
  await page.goto(`${env.GATEWAY_URL}/demo?site_key=${encodeURIComponent(env.DEMO_SITE_KEY)}`);
  await page.locator("[data-testid=tandem-launcher]").waitFor();
  return { context, page, seen };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Playwright's CSS locators pierce open shadow roots, so these find the widget's elements. */
export const W = {
  launcher: "[data-testid=tandem-launcher]",
  panel: "#tandem-panel",
  input: "#tandem-input",
  messages: "li.msg[data-seq]",
  handoff: '[data-action="handoff"]',
  banner: "[data-testid=tandem-handoff]",
  rating: "[data-testid=tandem-rating]",
};

export async function openWidget(page) {
  await page.locator(W.launcher).click();
  await page.locator(W.panel).waitFor({ state: "visible" });
}

export async function ask(page, text) {
  await page.locator(W.input).fill(text);
  await page.locator(W.input).press("Enter");
}

/** [{seq, author, text, state}] of every message element carrying a seq, in page order. */
export async function shownMessages(page) {
  return page.locator(W.messages).evaluateAll((elements) =>
    elements.map((element) => ({
      seq: Number(element.dataset.seq),
      author: element.dataset.author,
      text: element.querySelector(".text")?.textContent ?? "",
      state: element.dataset.state ?? null,
    })),
  );
}

/** Waits until ``predicate(messages)`` holds for the shown messages. */
export async function waitForMessages(page, predicate, { timeout = 90000, what = "messages" } = {}) {
  const deadline = Date.now() + timeout;
  let last = [];
  while (Date.now() < deadline) {
    last = await shownMessages(page);
    if (predicate(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`timed out waiting for ${what}; shown: ${JSON.stringify(last)}`);
}

export async function savedConversation(page, siteKey) {
  return page.evaluate((key) => {
    const raw = window.localStorage.getItem(`tandem-widget:v1:${key}`);
    return raw ? JSON.parse(raw) : null;
  }, siteKey);
}

/** The stored messages as the API returns them (GET .../messages), read outside the browser. */
export async function storedMessages(env, conversationId, token) {
  const response = await fetch(
    `${env.GATEWAY_URL}/v1/widget/conversations/${conversationId}/messages?after_seq=0`,
    { headers: { Authorization: `Bearer ${token}` } },
  );
  if (!response.ok) throw new Error(`reading messages: ${response.status} ${await response.text()}`);
  return (await response.json()).messages;
}

export async function sendOutsideBrowser(env, conversationId, token, text) {
  const response = await fetch(`${env.GATEWAY_URL}/v1/widget/conversations/${conversationId}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ text, client_message_id: `browser-test-${Date.now()}-${Math.random()}` }),
  });
  if (response.status !== 202) throw new Error(`sending: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Publishes agent events through tests/browser/act_as_agent.py (the console's events). */
export async function actAsAgent(env, conversationId, action, ...text) {
  const python = process.env.TANDEM_PYTHON || path.join(REPO, ".venv", "bin", "python");
  const { stdout } = await run(
    python,
    [path.join(REPO, "tests", "browser", "act_as_agent.py"), "--conversation", conversationId, "--site", env.DEMO_SITE_ID, action, ...text],
    { cwd: REPO, timeout: 60000 },
  );
  return JSON.parse(stdout);
}

export function assertContiguous(messages, assert) {
  const seqs = messages.map((message) => message.seq);
  assert.deepEqual(seqs, seqs.map((_, index) => index + 1), `seqs shown once each, in order, without gaps: ${seqs}`);
}
