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

// -- the console and dashboard tests ----------------------------------------------------

/** A unique suffix, so tests never collide with earlier runs' data. */
export function unique() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Adds an agent to the demo site's roster (the escalation service's internal team API). */
export async function createRosterAgent(env, { role = "agent", name = "Test Agent", site = env.DEMO_SITE_ID } = {}) {
  const id = `browser-${role}-${unique()}`.slice(0, 64).padEnd(16, "0");
  const email = `${id}@browser.example`;
  const password = `pw-${unique()}-${unique()}`;
  const base = (env.ESCALATION_URL || "http://127.0.0.1:8003").replace(/\/$/, "");
  const response = await fetch(`${base}/internal/sites/${site}/agents/${id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, name, role, password, skills: [], languages: ["en"], max_concurrent: 5 }),
  });
  if (!response.ok) throw new Error(`creating agent: ${response.status} ${await response.text()}`);
  return { id, email, password, name, role };
}

/** Starts a conversation over the widget API, as a visitor outside any browser. */
export async function startVisitor(env, visitor = {}, siteKey = env.DEMO_SITE_KEY) {
  const response = await fetch(`${env.GATEWAY_URL}/v1/widget/conversations`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Site-Key": siteKey },
    body: JSON.stringify({ visitor, locale: "en" }),
  });
  if (response.status !== 201) throw new Error(`starting: ${response.status} ${await response.text()}`);
  const body = await response.json();
  return { id: body.conversation_id, token: body.visitor_token };
}

export async function requestHuman(env, conversation) {
  const response = await fetch(`${env.GATEWAY_URL}/v1/widget/conversations/${conversation.id}/handoff`, {
    method: "POST",
    headers: { Authorization: `Bearer ${conversation.token}`, "Content-Type": "application/json" },
    body: "{}",
  });
  if (response.status !== 202) throw new Error(`handoff: ${response.status} ${await response.text()}`);
}

/** Waits for ``predicate(messages)`` on the stored messages (the widget API's record). */
export async function waitForStored(env, conversation, predicate, { timeout = 90000, what = "messages" } = {}) {
  const deadline = Date.now() + timeout;
  let last = [];
  while (Date.now() < deadline) {
    last = await storedMessages(env, conversation.id, conversation.token);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`timed out waiting for ${what}; stored: ${JSON.stringify(last).slice(0, 2000)}`);
}

/**
 * Opens the visitor's live stream in a page of the gateway's own origin and collects its
 * frames in ``window.__frames`` (Node 20 has no WebSocket of its own).
 */
export async function openVisitorStream(page, env, conversation) {
  await page.goto(`${env.GATEWAY_URL}/healthz`);
  await page.evaluate(
    ({ url }) =>
      new Promise((resolve, reject) => {
        window.__frames = [];
        const socket = new WebSocket(url);
        socket.onmessage = (event) => window.__frames.push(JSON.parse(event.data));
        socket.onopen = () => resolve(true);
        socket.onerror = () => reject(new Error("visitor stream failed"));
      }),
    {
      url: `${env.GATEWAY_URL.replace(/^http/, "ws")}/v1/widget/conversations/${conversation.id}/stream?token=${encodeURIComponent(conversation.token)}&after_seq=0`,
    },
  );
}

export async function visitorFrames(page) {
  return page.evaluate(() => window.__frames);
}

/** Signs in on the console or dashboard page already open. */
export async function signIn(page, agent) {
  await page.locator("#login-email").fill(agent.email);
  await page.locator("#login-password").fill(agent.password);
  await page.locator("[data-testid=login-submit]").click();
}

/**
 * A client address of its own per call (the gateway believes X-Forwarded-For from
 * 127.0.0.1): sign-ins are limited per address, and a whole test run signs in more often
 * than one person would.
 */
export function clientAddress() {
  const octet = () => Math.floor(Math.random() * 250) + 1;
  return `10.${octet()}.${octet()}.${octet()}`;
}

/** POST /v1/agent/login from Node, from an address of its own. */
export async function loginOutsideBrowser(env, agent) {
  return fetch(`${env.GATEWAY_URL}/v1/agent/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Forwarded-For": clientAddress() },
    body: JSON.stringify({ email: agent.email, password: agent.password }),
  });
}

/** A browser context recording dialogs and page errors (an XSS payload would show up there). */
export async function newWatchedPage(browser, { viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({
    locale: "en-US",
    viewport,
    extraHTTPHeaders: { "X-Forwarded-For": clientAddress() },
  });
  const page = await context.newPage();
  const seen = { dialogs: [], errors: [] };
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("dialog", (dialog) => {
    seen.dialogs.push(dialog.message());
    // The dashboard asks before deleting a document: the tests confirm those only.
    if (dialog.type() === "confirm" && dialog.message().startsWith("Delete")) void dialog.accept();
    else void dialog.dismiss();
  });
  return { context, page, seen };
}

/** A site of its own (the conversation service's internal API), e.g. with a hold policy. */
export async function createSite(env, settings = {}) {
  const id = `browser-${unique()}`;
  const base = (env.CONVERSATION_URL || "http://127.0.0.1:8001").replace(/\/$/, "");
  const response = await fetch(`${base}/internal/sites/${id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: `Browser test ${id}`, allowed_origins: [env.GATEWAY_URL], greeting: "Hello from the test site.", ...settings }),
  });
  if (!response.ok) throw new Error(`creating site: ${response.status} ${await response.text()}`);
  const site = await response.json();
  return { id, key: site.public_key };
}
