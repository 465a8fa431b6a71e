// The agent console (/console) in Debian's Chromium against the running stack (`make up`):
// a visitor asks for a person over the widget API; an agent signs in, sees the escalation
// arrive live, joins, replies (the visitor's stream gets it), adds a note, resolves.
// Screenshots go to test-artifacts/screenshots/console-*.png.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import {
  REPO,
  createRosterAgent,
  createSite,
  launchBrowser,
  newWatchedPage,
  openVisitorStream,
  requestHuman,
  screenshot,
  sendOutsideBrowser,
  signIn,
  stackEnv,
  startVisitor,
  unique,
  visitorFrames,
  waitForStored,
} from "./support.mjs";

const SLOW = { timeout: 240000 };
const XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
let env;
let browser;

before(async () => {
  env = stackEnv();
  const ready = await fetch(`${env.GATEWAY_URL}/readyz`);
  assert.equal(ready.status, 200, `the gateway at ${env.GATEWAY_URL} is not ready`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

async function waitUntil(page, check, what, timeout = 60000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("the console shows a new escalation live; the agent joins, replies, notes and resolves", SLOW, async () => {
  const agent = await createRosterAgent(env, { role: "agent", name: `Ada ${unique()}` });
  const { context, page, seen } = await newWatchedPage(browser);
  const visitorPage = await context.newPage();
  try {
    const response = await page.goto(`${env.GATEWAY_URL}/console`);
    assert.match(response.headers()["content-security-policy"], /script-src 'self'/);
    await screenshot(page, "console-login");
    // A wrong password is refused with a message, not a crash.
    await signIn(page, { ...agent, password: "not-the-password" });
    await page.locator("[data-testid=login-error]").filter({ hasText: /./ }).waitFor();
    await signIn(page, agent);
    await page.locator('[data-testid=connection][data-state="live"]').waitFor({ timeout: 30000 });
    assert.match(await page.locator("[data-testid=agent-name]").textContent(), /Ada/);
    // The access token stays in memory: only the refresh token is kept, for this tab.
    const stored = await page.evaluate(() => ({ ...sessionStorage, ...localStorage }));
    assert.deepEqual(Object.keys(stored), ["tandem-console:refresh"]);

    // A visitor (whose name is an XSS payload) asks a question, then for a person.
    const marker = unique();
    const visitor = await startVisitor(env, { name: `${XSS} ${marker}` });
    await sendOutsideBrowser(env, visitor.id, visitor.token, "Can I talk to a person about my invoice?");
    await openVisitorStream(visitorPage, env, visitor);
    await requestHuman(env, visitor);

    // The escalation arrives live: a notification, the badge, the title, the list.
    const notification = page.locator("[data-testid=notification]");
    await notification.filter({ hasText: "New escalation" }).waitFor({ timeout: 60000 });
    assert.match(await page.locator("[data-testid=escalation-badge]").textContent(), /^\d+$/);
    assert.match(await page.title(), /^\(\d+\) Tandem console$/);
    // The waiting list is longest-waiting first, and earlier runs may have left many
    // waiting: the newest is surely at the top of "All" (most recent first).
    await page.locator('.filter[data-filter="all"]').click();
    const item = page.locator(`[data-testid=conversation][data-id="${visitor.id}"]`);
    await item.waitFor({ timeout: 30000 });
    assert.ok((await item.textContent()).includes(XSS), "the visitor's name is shown as text");
    assert.match(await item.textContent(), /human requested/);
    await screenshot(page, "console-escalation");

    await item.click();
    await page.locator('[data-action="join"]').click();
    await page.locator('[data-action="leave"]').waitFor({ timeout: 30000 });
    await waitUntil(
      visitorPage,
      async () => (await visitorFrames(visitorPage)).some((f) => f.type === "handoff" && f.state === "agent_joined"),
      "the visitor's agent_joined frame",
    );

    const reply = `Hello, I am here to help (${marker}).`;
    await page.locator("#reply").fill(reply);
    await page.locator('[data-action="reply"]').click();
    await page.locator('li.msg[data-author="agent"]').filter({ hasText: marker }).waitFor({ timeout: 30000 });
    await waitUntil(
      visitorPage,
      async () => (await visitorFrames(visitorPage)).some((f) => f.type === "message" && f.author === "agent" && f.text === reply),
      "the agent's reply on the visitor's stream",
    );

    const note = `Invoice question; customer since 2019 ${marker} ${XSS}`;
    await page.locator("#note").fill(note);
    await page.locator('[data-action="note"]').click();
    const shownNote = page.locator(".note .text").filter({ hasText: marker });
    await shownNote.waitFor({ timeout: 30000 });
    assert.equal(await shownNote.textContent(), note);
    assert.match(await page.locator(".internal h3").textContent(), /never shown to the visitor/);
    await screenshot(page, "console-conversation");

    await page.locator('[data-action="resolve"]').click();
    await page.locator('[data-testid=view-status][data-status="resolved"]').waitFor({ timeout: 30000 });
    await waitUntil(
      visitorPage,
      async () => (await visitorFrames(visitorPage)).some((f) => f.type === "status" && f.status === "resolved"),
      "the visitor's resolved status",
    );
    await screenshot(page, "console-resolved");

    // The visitor's record has the reply but never the note.
    const messages = await waitForStored(env, visitor, (list) => list.some((m) => m.author === "agent"));
    assert.ok(messages.some((m) => m.text === reply));
    assert.ok(!JSON.stringify(messages).includes("customer since 2019"));
    assert.ok(!JSON.stringify(await visitorFrames(visitorPage)).includes("customer since 2019"));
    assert.deepEqual(seen.dialogs, [], "no script ran from a payload");
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("held AI answers are reviewed in the console; presence, escalate and transfer are acknowledged", SLOW, async () => {
  // A site of its own that holds every AI answer, so other tests' conversations are untouched.
  const site = await createSite(env, { hold_below_confidence: 1.0, hold_seconds: 900 });
  const admin = await createRosterAgent(env, { role: "admin", name: "Hana Holder", site: site.id });
  const colleague = await createRosterAgent(env, { role: "agent", name: "Toni Transfer", site: site.id });
  const visitor = await startVisitor(env, { name: "Held Visitor" }, site.key);
  await sendOutsideBrowser(env, visitor.id, visitor.token, "How do I stop Tandem?");

  const { context, page, seen } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/console`);
    await signIn(page, admin);
    await page.locator('[data-testid=connection][data-state="live"]').waitFor({ timeout: 30000 });
    await page.locator("#presence").selectOption("busy");
    await page.locator('.filter[data-filter="flagged"]').click();
    const item = page.locator(`[data-testid=conversation][data-id="${visitor.id}"]`);
    await item.waitFor({ timeout: 90000 });
    await item.click();
    const held = page.locator('li.msg[data-state="held"]');
    await held.waitFor({ timeout: 30000 });
    await screenshot(page, "console-held-reply");
    // Nothing reached the visitor yet.
    assert.ok(!(await waitForStored(env, visitor, () => true)).some((m) => m.author === "ai"));

    const edited = `Run make down to stop it (${unique()}).`;
    await held.locator("textarea").fill(edited);
    await held.locator('[data-action="edit"]').click();
    // The edited answer goes out under the reviewer's name; the held original never does.
    const answered = (list) => list.some((m) => m.text === edited);
    const messages = await waitForStored(env, visitor, answered, { what: "the edited answer" });
    assert.deepEqual(messages.map((m) => m.author), ["system", "visitor", "agent"]);
    assert.equal(messages[2].author_name, admin.name);
    await page.locator('li.msg[data-state="posted"]').filter({ hasText: edited }).waitFor({ timeout: 30000 });
    await page.locator('li.msg[data-state="edited"]').waitFor({ timeout: 30000 });

    await page.locator('[data-action="escalate"]').click();
    await page.locator('[data-testid=view-status]').filter({ hasText: "escalated" }).waitFor({ timeout: 30000 });
    await page.locator("#transfer-to").selectOption(colleague.id);
    await page.locator('[data-action="transfer"]').click();
    await page.waitForTimeout(1500);
    assert.equal(await page.locator(".toast.error:not([hidden])").count(), 0, "no command was refused");
    assert.equal(await page.locator("#presence").inputValue(), "busy");
    await screenshot(page, "console-transfer");
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("the committed console and dashboard bundles are built from the current sources", async () => {
  const fresh = mkdtempSync(path.join(tmpdir(), "tandem-console-"));
  try {
    const source = path.join(REPO, "services", "gateway", "src", "tandem_gateway", "console");
    await promisify(execFile)(process.execPath, [path.join(source, "build.mjs"), "--outdir", fresh], { cwd: REPO });
    for (const name of ["console.js", "dashboard.js"]) {
      const committed = readFileSync(path.join(source, "..", "static", name), "utf8");
      assert.equal(readFileSync(path.join(fresh, name), "utf8"), committed, `static/${name} is stale: npm run build:console`);
      assert.ok(!/innerHTML|insertAdjacentHTML|document\.write/.test(committed), `${name} never parses HTML`);
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
});
