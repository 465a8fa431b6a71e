// The embeddable widget in Debian's Chromium against the running stack (`make up`):
// the demo page embeds it with its snippet, exactly as a customer's site would.
//
//   node --test tests/browser/        (or: npm run test:browser)
// (named *.test.mjs: the pattern node --test looks for in a folder)
//
// Screenshots go to test-artifacts/screenshots/.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  W,
  actAsAgent,
  ask,
  assertContiguous,
  launchBrowser,
  openDemo,
  openWidget,
  savedConversation,
  screenshot,
  sendOutsideBrowser,
  shownMessages,
  stackEnv,
  storedMessages,
  waitForMessages,
} from "./support.mjs";

const SLOW = { timeout: 240000 };
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

const hasAiAnswers = (count) => (messages) => messages.filter((m) => m.author === "ai").length >= count;

test("the snippet loads the widget: a question gets an answer with its source as a link", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  try {
    await openWidget(page);
    // Opening moves the focus to the message box, so the visitor can type at once.
    assert.equal(await page.locator(W.input).evaluate((input) => input.getRootNode().activeElement === input), true);
    await ask(page, "How do I stop Tandem?");
    const messages = await waitForMessages(page, hasAiAnswers(1), { what: "the AI answer" });
    assertContiguous(messages, assert);
    assert.deepEqual(messages.slice(0, 3).map((m) => m.author), ["system", "visitor", "ai"]);
    assert.equal(messages[1].text, "How do I stop Tandem?");
    assert.match(messages[2].text, /make (down|purge)/);

    const answer = page.locator('li.msg[data-author="ai"]').first();
    const link = answer.locator(".sources a").first();
    const href = await link.getAttribute("href");
    assert.match(href, /^https?:\/\/.+\/demo\/docs\/[a-z0-9_-]+\.md$/);
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.match(await link.getAttribute("rel"), /noopener/);
    assert.ok((await link.textContent()).trim(), "the link shows the source's title");
    // The demo site shows confidence to visitors.
    assert.match(await answer.locator(".confidence").textContent(), /^Confidence: \d{1,3}%$/);
    assert.ok(await answer.locator("time[datetime]").count(), "each message shows its time");
    const cited = await fetch(href);
    assert.equal(cited.status, 200, "the cited source opens");

    await screenshot(page, "widget-answer");
    assert.deepEqual(seen.dialogs, []);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("talk to a person: the request shows, then the agent's name and their reply, unread while closed", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  try {
    await openWidget(page);
    await ask(page, "I would like to change my subscription plan.");
    await waitForMessages(page, (m) => m.some((x) => x.author === "visitor" && x.seq === 2), { what: "the question" });

    await page.locator(W.handoff).click();
    const banner = page.locator(`${W.banner}[data-state="requested"]`);
    await banner.waitFor({ state: "visible" });
    assert.match(await banner.textContent(), /Waiting for a person/);
    assert.equal(await page.locator(W.handoff).isDisabled(), true, "asking twice is not offered");
    assert.equal(await page.locator(W.input).evaluate((input) => input.getRootNode().activeElement === input), true, "the focus is not lost");
    // The escalation service raised it: the gateway's stream says so too.
    await waitFor(() => seen.framesReceived.some((f) => f.type === "handoff" && f.state === "requested"), 30000, "the handoff frame");
    await screenshot(page, "widget-handoff-requested");

    const { conversationId } = await savedConversation(page, env.DEMO_SITE_KEY);
    await actAsAgent(env, conversationId, "join");
    const joined = page.locator(`${W.banner}[data-state="agent_joined"]`);
    await joined.waitFor({ state: "visible" });
    assert.equal(await joined.textContent(), "Dana joined the conversation");

    // The visitor closes the chat; the reply that arrives meanwhile shows as unread.
    await page.locator('[data-action="close"]').click();
    await page.locator(W.panel).waitFor({ state: "hidden" });
    await actAsAgent(env, conversationId, "reply", "Hi, I am Dana. I can change your plan right away.");
    const badge = page.locator(`${W.launcher} .badge`);
    await badge.waitFor({ state: "visible" });
    assert.equal(await badge.textContent(), "1");
    assert.equal(await page.locator(W.launcher).getAttribute("aria-label"), "Open chat (1 unread messages)");
    await openWidget(page);
    assert.equal(await badge.isVisible(), false);
    const messages = await waitForMessages(page, (m) => m.some((x) => x.author === "agent"), { what: "the agent's reply" });
    assertContiguous(messages, assert);
    const reply = page.locator('li.msg[data-author="agent"]').last();
    assert.equal(await reply.locator(".author").textContent(), "Dana");
    assert.equal(await reply.locator(".text").textContent(), "Hi, I am Dana. I can change your plan right away.");
    await screenshot(page, "widget-agent-reply");
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("a resolved conversation asks for a rating, which is sent", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  try {
    await openWidget(page);
    await ask(page, "How do I stop Tandem?");
    await waitForMessages(page, hasAiAnswers(1), { what: "the answer" });
    const { conversationId } = await savedConversation(page, env.DEMO_SITE_KEY);
    await actAsAgent(env, conversationId, "resolve");

    const rating = page.locator(W.rating);
    await rating.waitFor({ state: "visible" });
    await page.getByText("This conversation was marked as resolved.").waitFor();
    await rating.locator('[data-score="4"]').click();
    assert.equal(await rating.locator('[data-score="4"]').getAttribute("aria-pressed"), "true");
    for (const other of ["1", "2", "3", "5"]) {
      assert.equal(await rating.locator(`[data-score="${other}"]`).getAttribute("aria-pressed"), "false");
    }
    await rating.locator("textarea").fill("Quick and friendly.");
    await screenshot(page, "widget-rating");
    const [rated] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith("/rating")),
      rating.locator('button[type="submit"]').click(),
    ]);
    assert.equal(rated.status(), 204);
    await rating.waitFor({ state: "hidden" });
    await page.getByText("Thank you for your feedback!").waitFor();
    // Rated once: a reload does not ask again.
    await page.reload();
    await page.locator(W.panel).waitFor({ state: "visible" });
    await waitForMessages(page, hasAiAnswers(1), { what: "the restored conversation" });
    assert.equal(await page.locator(W.rating).isVisible(), false);
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("losing the connection: queued while offline, replayed after, no gaps, no duplicates", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  try {
    await openWidget(page);
    await ask(page, "What does the confidence percentage mean?");
    await waitForMessages(page, hasAiAnswers(1), { what: "the first answer" });
    const { conversationId, token } = await savedConversation(page, env.DEMO_SITE_KEY);
    const socketsBefore = seen.sockets.length;

    await context.setOffline(true);
    await page.getByText("You are offline", { exact: false }).waitFor();
    // While the widget is away, the conversation moves on without it: a question from
    // another device, and its answer.
    await sendOutsideBrowser(env, conversationId, token, "Which languages does Tandem support?");
    await waitFor(async () => (await storedMessages(env, conversationId, token)).filter((m) => m.author === "ai").length >= 2, 90000, "the answer given while offline");
    // And the visitor types while offline: the message waits in the queue.
    await ask(page, "How do I scale Tandem?");
    const queued = page.locator('li.msg[data-state="queued"]');
    await queued.waitFor();
    assert.equal(await queued.locator(".delivery").textContent(), "Waiting to send");
    await screenshot(page, "widget-offline-queued");

    await context.setOffline(false);
    const messages = await waitForMessages(page, (m) => m.length >= 7 && m.filter((x) => x.author === "ai").length >= 3, { what: "the replay and the queued message's answer" });
    assertContiguous(messages, assert);
    const stored = await storedMessages(env, conversationId, token);
    assert.deepEqual(
      messages.map((m) => [m.seq, m.author, m.text]),
      stored.map((m) => [m.seq, m.author, m.text]).slice(0, messages.length),
      "the widget shows exactly the stored conversation",
    );
    assert.equal(messages.filter((m) => m.text === "How do I scale Tandem?").length, 1, "the queued message was sent once");
    assert.equal(await page.locator("li.msg[data-client-id]:not([data-seq])").count(), 0, "nothing left waiting");
    // The widget resumed from the last seq it had instead of reloading everything.
    const resumed = seen.sockets.slice(socketsBefore).map((url) => Number(new URL(url).searchParams.get("after_seq")));
    assert.ok(resumed.length >= 1 && resumed[0] >= 3, `reconnected with after_seq: ${resumed}`);
    await screenshot(page, "widget-reconnected");
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("a page reload resumes the conversation where it was", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  try {
    await openWidget(page);
    await ask(page, "Which languages does Tandem support?");
    const before = await waitForMessages(page, hasAiAnswers(1), { what: "the answer" });
    const saved = await savedConversation(page, env.DEMO_SITE_KEY);

    await page.reload();
    // The panel was open: it opens again, with the same conversation.
    await page.locator(W.panel).waitFor({ state: "visible" });
    const after = await waitForMessages(page, (m) => m.length >= before.length, { what: "the restored conversation" });
    const content = (messages) => messages.map(({ seq, author, text }) => ({ seq, author, text }));
    assert.deepEqual(content(after), content(before));
    assert.equal((await savedConversation(page, env.DEMO_SITE_KEY)).conversationId, saved.conversationId);

    await ask(page, "How do I stop Tandem?");
    const continued = await waitForMessages(page, hasAiAnswers(2), { what: "the next answer" });
    assertContiguous(continued, assert);
    assert.equal(continued[before.length].text, "How do I stop Tandem?");
    await screenshot(page, "widget-after-reload");
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test("hostile text from visitors and agents renders inert", SLOW, async () => {
  const { context, page, seen } = await openDemo(browser, env);
  const payloads = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '<a href="javascript:alert(3)">click me</a>',
    "javascript:alert(4)",
    '"><svg onload=alert(5)>',
  ];
  try {
    await openWidget(page);
    const scriptsBefore = await page.evaluate(() => document.querySelectorAll("script").length);
    for (const payload of payloads) await ask(page, payload);
    await waitForMessages(page, (m) => payloads.every((p) => m.some((x) => x.author === "visitor" && x.text === p)), { what: "the payloads" });
    const { conversationId } = await savedConversation(page, env.DEMO_SITE_KEY);
    await actAsAgent(env, conversationId, "reply", "<img src=x onerror=alert(6)><b>bold</b>");
    await waitForMessages(page, (m) => m.some((x) => x.author === "agent"), { what: "the agent's payload" });
    await page.waitForTimeout(500);

    const injected = await page.evaluate(() => {
      const root = document.querySelector("#tandem-widget").shadowRoot;
      const log = root.querySelector(".log");
      return {
        elements: log.querySelectorAll("img, script, svg, b, iframe, object").length,
        links: Array.from(log.querySelectorAll("a")).map((a) => a.getAttribute("href")),
        scripts: document.querySelectorAll("script").length,
      };
    });
    assert.equal(injected.elements, 0, "no element was created from message text");
    assert.ok(injected.links.every((href) => /^https?:/.test(href)), `only http(s) links: ${injected.links}`);
    assert.equal(injected.scripts, scriptsBefore, "no script was added to the page");
    const shown = await shownMessages(page);
    for (const payload of payloads) assert.ok(shown.some((m) => m.text === payload), `shown as text: ${payload}`);
    assert.ok(shown.some((m) => m.text === "<img src=x onerror=alert(6)><b>bold</b>"));
    assert.deepEqual(seen.dialogs, [], "no script ran");
    await page.locator("li.msg", { hasText: payloads[0] }).scrollIntoViewIfNeeded();
    await screenshot(page, "widget-xss-inert");
  } finally {
    await context.close();
  }
});

test("keyboard and screen readers: labelled controls, a live log, Escape closes", SLOW, async () => {
  const { context, page } = await openDemo(browser, env);
  try {
    const launcher = page.locator(W.launcher);
    assert.equal(await launcher.getAttribute("aria-label"), "Open chat");
    assert.equal(await launcher.getAttribute("aria-expanded"), "false");
    await launcher.focus();
    await page.keyboard.press("Enter");
    await page.locator(W.panel).waitFor({ state: "visible" });
    assert.equal(await launcher.getAttribute("aria-expanded"), "true");
    assert.equal(await page.locator(W.panel).getAttribute("role"), "dialog");
    assert.equal(await page.locator(".log").getAttribute("role"), "log");
    assert.equal(await page.locator(".log").getAttribute("aria-live"), "polite");
    assert.equal(await page.locator('label[for="tandem-input"]').textContent(), "Your message");
    const focused = () => page.evaluate(() => {
      const active = document.querySelector("#tandem-widget").shadowRoot.activeElement;
      return active ? active.id || active.getAttribute("data-testid") || active.getAttribute("data-action") || active.tagName : null;
    });
    assert.equal(await focused(), "tandem-input");
    // Every button says what it does.
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelector("#tandem-widget").shadowRoot.querySelectorAll("button"))
        .filter((b) => !(b.getAttribute("aria-label") || b.textContent.trim()))
        .length,
    );
    assert.equal(unlabelled, 0);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "BUTTON", "Tab reaches the send button");
    await page.keyboard.press("Escape");
    await page.locator(W.panel).waitFor({ state: "hidden" });
    assert.equal(await focused(), "tandem-launcher", "closing returns the focus to the launcher");
    assert.equal(await launcher.getAttribute("aria-expanded"), "false");
  } finally {
    await context.close();
  }
});

test("the widget speaks the visitor's language, right to left for Arabic", SLOW, async () => {
  for (const [locale, open, rtl] of [["fr-FR", "Ouvrir le chat", false], ["ar-EG", "فتح المحادثة", true], ["ja-JP", "チャットを開く", false]]) {
    const { context, page } = await openDemo(browser, env, { locale });
    try {
      const launcher = page.locator(W.launcher);
      assert.equal(await launcher.getAttribute("aria-label"), open, locale);
      assert.equal(await page.locator(W.panel).getAttribute("dir"), rtl ? "rtl" : "ltr", locale);
      assert.equal(await page.locator(".root").getAttribute("lang"), locale.slice(0, 2));
      if (rtl) {
        await openWidget(page);
        await screenshot(page, "widget-arabic-rtl");
      }
    } finally {
      await context.close();
    }
  }
});

async function waitFor(condition, timeout, what) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}
