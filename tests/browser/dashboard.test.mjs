// The dashboard (/dashboard) in Debian's Chromium against the running stack (`make up`):
// agents are turned away; an owner filters and searches conversations, opens one, looks
// at settings, team and analytics, and uploads a Markdown document that the AI then
// answers from. Screenshots go to test-artifacts/screenshots/dashboard-*.png.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  createRosterAgent,
  createSite,
  launchBrowser,
  loginOutsideBrowser,
  newWatchedPage,
  screenshot,
  sendOutsideBrowser,
  signIn,
  stackEnv,
  startVisitor,
  unique,
  waitForStored,
} from "./support.mjs";

const SLOW = { timeout: 300000 };
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

test("an agent signing in to the dashboard is told it is not allowed", SLOW, async () => {
  const agent = await createRosterAgent(env, { role: "agent", name: "Arno Agent" });
  const { context, page } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/dashboard`);
    await signIn(page, agent);
    await page.locator("[data-testid=not-allowed]").waitFor();
    await screenshot(page, "dashboard-not-allowed");
    // The API refuses too, whatever the page shows.
    const login = await loginOutsideBrowser(env, agent);
    const { access_token: token } = await login.json();
    const refused = await fetch(`${env.GATEWAY_URL}/v1/admin/site`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error.code, "not_allowed");
  } finally {
    await context.close();
  }
});

test("an owner filters and searches conversations and opens one", SLOW, async () => {
  const marker = `zebra${unique()}`;
  const visitor = await startVisitor(env, { name: "Dora Dashboard" });
  await sendOutsideBrowser(env, visitor.id, visitor.token, `Does Tandem support the ${marker} protocol?`);
  await waitForStored(env, visitor, (list) => list.some((m) => m.author === "ai"), { what: "the AI answer" });

  const { context, page, seen } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/dashboard`);
    await signIn(page, owner);
    const rows = page.locator("[data-testid=conversation-row]");
    await rows.first().waitFor();
    await screenshot(page, "dashboard-conversations");

    // Status filter: every row shown has that status.
    await page.locator("select[name=status]").selectOption("active");
    await page.locator("[data-testid=conversation-filters] button[type=submit]").click();
    await page.waitForFunction(() => document.querySelector("[data-testid=result-count]")?.textContent !== "");
    await page.waitForTimeout(500);
    const statuses = await rows.evaluateAll((list) => list.map((row) => row.dataset.status));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === "active"), `statuses: ${statuses}`);

    // Text search finds the one conversation whose messages hold the marker.
    await page.locator("select[name=status]").selectOption("");
    const today = new Date().toISOString().slice(0, 10);
    await page.locator("input[name=from]").fill(today);
    await page.locator("input[name=q]").fill(marker);
    await page.locator("[data-testid=conversation-filters] button[type=submit]").click();
    await page.locator(`[data-testid=result-count][data-total="1"]`).waitFor({ timeout: 30000 });
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute("data-id"), visitor.id);
    await rows.first().locator("button").click();
    const detail = page.locator("[data-testid=conversation-detail]");
    await detail.locator("li.msg", { hasText: marker }).waitFor();
    assert.ok(await detail.locator('li.msg[data-author="ai"]').count() >= 1);
    await screenshot(page, "dashboard-conversation-detail");

    // Settings, team and analytics render from the admin API.
    await page.locator('[data-tab="settings"]').click();
    await page.locator("[data-testid=settings-form]").waitFor();
    assert.match(await page.locator("#allowed-origins").inputValue(), /http/);
    await screenshot(page, "dashboard-settings");
    await page.locator('[data-tab="team"]').click();
    await page.locator(`[data-testid=team] tr[data-agent-id="${owner.id}"]`).waitFor();
    await screenshot(page, "dashboard-team");
    await page.locator('[data-tab="analytics"]').click();
    await page.locator("[data-testid=numbers]").waitFor();
    assert.equal(await page.locator("svg.chart").count(), 2);
    await screenshot(page, "dashboard-analytics");
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("an owner uploads a Markdown document and the AI answers from it", SLOW, async () => {
  const word = `Quillon${unique()}`;
  const filename = `mascot-${unique()}.md`;
  const title = `The office mascot ${word}`;
  const markdown = `# ${title}\n\nThe Tandem office mascot is a tortoise called ${word}. ${word} lives in the lobby of the Tandem office and eats lettuce every morning.\n`;
  const { context, page, seen } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/dashboard`);
    await signIn(page, owner);
    await page.locator('[data-tab="knowledge"]').click();
    await page.locator("[data-testid=kb-file]").setInputFiles({ name: filename, mimeType: "text/markdown", buffer: Buffer.from(markdown) });
    await page.locator('[data-action="upload"]').click();
    await page.locator("[data-testid=flash]", { hasText: "Indexed" }).waitFor({ timeout: 120000 });
    const documentId = filename.replace(/\.md$/, "");
    const row = page.locator(`[data-testid=documents] tr[data-document-id="${documentId}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(word));
    await screenshot(page, "dashboard-knowledge");

    // A visitor asks about it over the widget API: the answer cites the new document.
    const visitor = await startVisitor(env, {});
    await sendOutsideBrowser(env, visitor.id, visitor.token, "What is the name of the Tandem office mascot tortoise?");
    const messages = await waitForStored(env, visitor, (list) => list.some((m) => m.author === "ai"), { what: "the AI answer" });
    const answer = messages.find((m) => m.author === "ai");
    assert.ok(
      (answer.sources ?? []).some((s) => s.title === title),
      `the answer cites the document: ${JSON.stringify(answer)}`,
    );
    assert.ok(answer.text.includes(word), `the answer names the mascot: ${answer.text}`);

    // Delete it again (confirmed in the dialog): the list no longer has it.
    await row.locator('[data-action="delete"]').click();
    await page.locator("[data-testid=flash]", { hasText: "deleted" }).waitFor({ timeout: 30000 });
    assert.equal(await page.locator(`[data-testid=documents] tr[data-document-id="${documentId}"]`).count(), 0);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("an owner changes the settings and adds a team member", SLOW, async () => {
  // A site of its own, so the demo site's settings stay as they are.
  const site = await createSite(env);
  const siteOwner = await createRosterAgent(env, { role: "owner", name: "Sam Settings", site: site.id });
  const { context, page, seen } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/dashboard`);
    await signIn(page, siteOwner);
    await page.locator('[data-tab="settings"]').click();
    const form = page.locator("[data-testid=settings-form]");
    await form.waitFor();
    const greeting = `Welcome to the test shop ${unique()}`;
    await form.getByLabel("Greeting", { exact: true }).fill(greeting);
    await form.getByLabel("Colour").fill("#aa3300");
    await form.getByLabel("Position").selectOption("bottom-left");
    await form.locator("#hold-below").fill("0.4");
    await form.getByLabel("Use business hours").check();
    await form.getByLabel("mon open", { exact: true }).check();
    await form.getByLabel("Message outside business hours").fill("We are closed; leave a message.");
    await form.locator("button[type=submit]").click();
    await page.locator("[data-testid=flash]", { hasText: "Settings saved." }).waitFor({ timeout: 30000 });

    const conversationUrl = (env.CONVERSATION_URL || "http://127.0.0.1:8001").replace(/\/$/, "");
    const stored = await (await fetch(`${conversationUrl}/internal/sites/${site.id}`)).json();
    assert.equal(stored.greeting, greeting);
    assert.deepEqual(stored.widget, { color: "#aa3300", position: "bottom-left" });
    assert.equal(stored.hold_below_confidence, 0.4);
    assert.equal(stored.public_key, site.key, "the public key is kept");
    const escalationUrl = (env.ESCALATION_URL || "http://127.0.0.1:8003").replace(/\/$/, "");
    const routing = await (await fetch(`${escalationUrl}/internal/sites/${site.id}/routing`)).json();
    assert.deepEqual(routing.business_hours.days, { mon: ["09:00", "17:00"] });
    assert.equal(routing.offline_message, "We are closed; leave a message.");

    // A bad origin is refused with the reason, and nothing is saved.
    await form.locator("#allowed-origins").fill("javascript:alert(1)");
    await form.locator("button[type=submit]").click();
    await page.locator(".flash.error", { hasText: "not an origin" }).waitFor({ timeout: 30000 });

    await page.locator('[data-tab="team"]').click();
    await page.locator('[data-action="add-agent"]').click();
    const agentForm = page.locator("[data-testid=agent-form]");
    const newId = `browser-new-${unique()}`;
    await agentForm.getByLabel("Agent id").fill(newId);
    await agentForm.getByLabel("Email").fill(`${newId}@browser.example`);
    await agentForm.getByLabel("Name", { exact: true }).fill("Nia New");
    await agentForm.getByLabel("Skills (comma-separated)").fill("billing, returns");
    await agentForm.getByLabel("Password").fill("a-good-long-password");
    await agentForm.locator("button[type=submit]").click();
    const row = page.locator(`[data-testid=team] tr[data-agent-id="${newId}"]`);
    await row.waitFor({ timeout: 30000 });
    assert.match(await row.textContent(), /Nia New.*agent.*billing, returns/);
    await screenshot(page, "dashboard-team-added");
    // The new agent can sign in.
    const login = await loginOutsideBrowser(env, { email: `${newId}@browser.example`, password: "a-good-long-password" });
    assert.equal(login.status, 200);
    assert.equal((await login.json()).agent.site_id, site.id);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("an owner sets the answer threshold and fallback text and manages curated answers", SLOW, async () => {
  // A site of its own, so the demo site keeps the defaults.
  const site = await createSite(env);
  const siteOwner = await createRosterAgent(env, { role: "owner", name: "Cora Curator", site: site.id });
  const answeringUrl = (env.ANSWERING_URL || "http://127.0.0.1:8002").replace(/\/$/, "");
  const stored = async (path) => (await fetch(`${answeringUrl}/v1/admin/sites/${site.id}/${path}`)).json();
  // What an attacker might pin: it must stay text, never become markup.
  const payload = `<img src=x onerror="alert('curated')"> ${unique()}`;
  const { context, page, seen } = await newWatchedPage(browser);
  try {
    await page.goto(`${env.GATEWAY_URL}/dashboard`);
    await signIn(page, siteOwner);
    await page.locator('[data-tab="knowledge"]').click();
    const settingsForm = page.locator("[data-testid=answering-settings]");
    await settingsForm.waitFor();
    await settingsForm.locator("#answer-threshold").fill("0.65");
    await settingsForm.locator("#answer-fallback").fill("Let me ask a colleague to help.");
    await settingsForm.locator("button[type=submit]").click();
    await page.locator("[data-testid=flash]", { hasText: "Answer settings saved." }).waitFor({ timeout: 30000 });
    const settings = await stored("answering-settings");
    assert.equal(settings.answer_threshold, 0.65);
    assert.equal(settings.fallback_text, "Let me ask a colleague to help.");

    // Add one, with an alternative phrasing and a source.
    await page.locator('[data-action="add-curated"]').click();
    const form = page.locator("[data-testid=curated-form]");
    await form.getByLabel("Question", { exact: true }).fill("When is the shop open?");
    await form.getByLabel("Other ways visitors ask it (one a line, up to 10)").fill("Opening hours\nAre you open on Sunday?");
    await form.getByLabel("Answer", { exact: true }).fill(payload);
    await form.getByLabel("Source title").fill("Opening hours");
    await form.getByLabel("Source URL").fill("https://shop.example/hours");
    await form.locator("button[type=submit]").click();
    await page.locator("[data-testid=flash]", { hasText: "Curated answer saved." }).waitFor({ timeout: 30000 });
    const rows = page.locator("[data-testid=curated-list] tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    const row = rows.first();
    assert.match(await row.textContent(), /When is the shop open\?.*\+2 other phrasings/);
    assert.ok((await row.textContent()).includes(payload), "the payload is shown as text");
    assert.equal(await page.locator("[data-testid=curated-list] img").count(), 0, "no markup was made");
    const [entry] = (await stored("curated-answers")).curated_answers;
    assert.deepEqual(entry.alternatives, ["Opening hours", "Are you open on Sunday?"]);
    assert.equal(entry.url, "https://shop.example/hours");
    await screenshot(page, "dashboard-curated-answers");

    // Edit it: the same entry, a new answer.
    await row.locator('[data-action="edit-curated"]').click();
    await form.getByLabel("Answer", { exact: true }).fill("Nine to five, Monday to Saturday.");
    await form.locator("button[type=submit]").click();
    await page.locator("[data-testid=curated-list]", { hasText: "Nine to five" }).waitFor({ timeout: 30000 });
    const edited = (await stored("curated-answers")).curated_answers;
    assert.equal(edited.length, 1);
    assert.equal(edited[0].curated_id, entry.curated_id);
    assert.equal(edited[0].answer, "Nine to five, Monday to Saturday.");

    // A second entry with the same words is refused with the reason.
    await page.locator('[data-action="add-curated"]').click();
    await form.getByLabel("Question", { exact: true }).fill("opening hours");
    await form.getByLabel("Answer", { exact: true }).fill("Duplicate");
    await form.locator("button[type=submit]").click();
    await page.locator(".flash.error", { hasText: "already a phrasing" }).waitFor({ timeout: 30000 });

    // Delete it (confirmed in the dialog).
    await page.locator('[data-testid=curated-list] [data-action="delete-curated"]').click();
    await page.locator("[data-testid=flash]", { hasText: "Curated answer deleted." }).waitFor({ timeout: 30000 });
    assert.equal(await page.locator("[data-testid=curated-list] tbody tr").count(), 0);
    assert.equal((await stored("curated-answers")).total, 0);
    assert.deepEqual(seen.errors, []);
    assert.ok(seen.dialogs.every((message) => message.startsWith("Delete")), `dialogs: ${seen.dialogs}`);
  } finally {
    await context.close();
  }
});
