// Invitations in Debian's Chromium against the running stack (`make up`): an owner invites
// a teammate on the dashboard's team page, the invitee opens the link (the token in the
// URL fragment, gone from the address bar at once), picks a name and a password and lands
// signed in on the console; the link then refuses a second use, and a withdrawn
// invitation's link refuses to work at all. Screenshots: test-artifacts/screenshots/
// dashboard-invitation-*.png.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { REPO, createRosterAgent, launchBrowser, newWatchedPage, screenshot, signIn, stackEnv, unique } from "./support.mjs";

const SLOW = { timeout: 180000 };
let env;
let browser;
let owner;

before(async () => {
  env = stackEnv();
  const ready = await fetch(`${env.GATEWAY_URL}/readyz`);
  assert.equal(ready.status, 200, `the gateway at ${env.GATEWAY_URL} is not ready`);
  browser = await launchBrowser();
  owner = await createRosterAgent(env, { role: "owner", name: "Olga Owner" });
});

after(async () => {
  await browser?.close();
});

/** Signs the owner in on the dashboard, opens the team page and invites `email`; returns the link. */
async function invite(page, email, role = "agent") {
  await page.goto(`${env.GATEWAY_URL}/dashboard`);
  await signIn(page, owner);
  await page.locator('[data-tab="team"]').click();
  const form = page.locator("[data-testid=invite-form]");
  await form.waitFor();
  await form.locator("input[name=invite-email]").fill(email);
  await form.locator("select[name=invite-role]").selectOption(role);
  await form.locator("button[type=submit]").click();
  const url = page.locator("[data-testid=invite-url]");
  await url.waitFor();
  return url.inputValue();
}

test("an owner invites a teammate, who joins with a name and a password and lands on the console", SLOW, async () => {
  const email = `invitee-${unique()}@browser.example`;
  const name = `Nia ${unique()}`;
  const password = `pw-${unique()}-${unique()}`;
  const admin = await newWatchedPage(browser);
  const invitee = await newWatchedPage(browser);
  try {
    const link = await invite(admin.page, email);
    const { pathname, hash } = new URL(link);
    assert.equal(pathname, "/invitation");
    assert.match(hash, /^#token=tinv_[A-Za-z0-9_-]{43}$/, "the token rides in the fragment, never the path or query");
    const pending = admin.page.locator(`[data-testid=invitations] tr[data-email="${email}"]`);
    await pending.waitFor();
    assert.equal(await pending.getAttribute("data-state"), "pending");
    await screenshot(admin.page, "dashboard-invitation-created");

    // The invitee opens the link: the server only ever sees /invitation.
    const requested = [];
    invitee.page.on("request", (request) => requested.push(request.url()));
    await invitee.page.goto(link);
    await invitee.page.locator("[data-testid=accept-form]").waitFor();
    assert.equal(new URL(invitee.page.url()).hash, "", "the token is wiped from the address bar");
    assert.ok(requested.every((url) => !url.includes("tinv_")), `the token reached a URL: ${requested}`);
    await screenshot(invitee.page, "dashboard-invitation-accept");
    await invitee.page.locator("#invite-name").fill(name);
    await invitee.page.locator("#invite-password").fill(password);
    await invitee.page.locator("#invite-password-again").fill(password);
    await invitee.page.locator("[data-testid=accept-submit]").click();
    // Signed in straight away, as an agent: the console greets them by name.
    await invitee.page.waitForURL(/\/console$/, { timeout: 30000 });
    await invitee.page.locator("[data-testid=agent-name]", { hasText: name }).waitFor({ timeout: 30000 });
    await screenshot(invitee.page, "dashboard-invitation-joined");

    // The owner's team page lists them; the invitation is no longer open.
    await admin.page.locator('[data-tab="settings"]').click();
    await admin.page.locator('[data-tab="team"]').click();
    await admin.page.locator("[data-testid=team] td", { hasText: email }).waitFor();
    assert.equal(await admin.page.locator(`[data-testid=invitations] tr[data-email="${email}"]`).count(), 0);

    // The same link a second time: refused, with a reason.
    const again = await newWatchedPage(browser);
    try {
      await again.page.goto(link);
      await again.page.locator("#invite-name").fill("Someone Else");
      await again.page.locator("#invite-password").fill(password);
      await again.page.locator("#invite-password-again").fill(password);
      await again.page.locator("[data-testid=accept-submit]").click();
      await again.page.locator("[data-testid=invitation-unusable]", { hasText: "already used" }).waitFor();
    } finally {
      await again.context.close();
    }
    for (const seen of [admin.seen, invitee.seen]) {
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.dialogs, []);
    }
  } finally {
    await admin.context.close();
    await invitee.context.close();
  }
});

test("a withdrawn invitation's link no longer works", SLOW, async () => {
  const email = `withdrawn-${unique()}@browser.example`;
  const admin = await newWatchedPage(browser);
  const invitee = await newWatchedPage(browser);
  try {
    const link = await invite(admin.page, email, "admin");
    const row = admin.page.locator(`[data-testid=invitations] tr[data-email="${email}"]`);
    await row.locator('[data-action="revoke"]').click();
    await admin.page.locator("[data-testid=flash]", { hasText: "withdrawn" }).waitFor();
    assert.equal(await row.count(), 0);

    await invitee.page.goto(link);
    await invitee.page.locator("#invite-name").fill("Too Late");
    await invitee.page.locator("#invite-password").fill("a-long-enough-password");
    await invitee.page.locator("#invite-password-again").fill("a-long-enough-password");
    await invitee.page.locator("[data-testid=accept-submit]").click();
    await invitee.page.locator("[data-testid=invitation-unusable]", { hasText: "withdrawn" }).waitFor();
    await screenshot(invitee.page, "dashboard-invitation-withdrawn");
  } finally {
    await admin.context.close();
    await invitee.context.close();
  }
});

test("a link without its token says so", SLOW, async () => {
  const { context, page } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/invitation`);
    await page.locator("[data-testid=invitation-unusable]", { hasText: "incomplete" }).waitFor();
  } finally {
    await context.close();
  }
});

test("the committed accept page bundle is built from the current sources", async () => {
  const fresh = mkdtempSync(path.join(tmpdir(), "tandem-invitation-"));
  try {
    const source = path.join(REPO, "services", "gateway", "src", "tandem_gateway", "console");
    await promisify(execFile)(process.execPath, [path.join(source, "build.mjs"), "--outdir", fresh], { cwd: REPO });
    const committed = readFileSync(path.join(source, "..", "static", "invitation.js"), "utf8");
    assert.equal(readFileSync(path.join(fresh, "invitation.js"), "utf8"), committed, "static/invitation.js is stale: npm run build:console");
    assert.ok(!/innerHTML|insertAdjacentHTML|document\.write/.test(committed), "invitation.js never parses HTML");
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
});
