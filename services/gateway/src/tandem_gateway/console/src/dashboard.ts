// The dashboard for a site's owners and admins: conversations, settings, team, knowledge
// base and analytics, all through /v1/admin (docs/console.md). Agents are told they are
// not allowed; the API checks the role on every call anyway.

import { ApiError, Session, bandOf, clear, el, formatConfidence, formatDuration, formatTime, loginForm, type AgentInfo } from "./common";

type Json = Record<string, any>;
type Tab = "conversations" | "settings" | "team" | "knowledge" | "analytics";

const session = new Session();
const root = document.getElementById("app") as HTMLElement;
const main = el("main", { class: "dashboard", id: "main" });
const flash = el("p", { class: "flash", role: "status", "data-testid": "flash" });
const TABS: Array<[Tab, string]> = [
  ["conversations", "Conversations"],
  ["settings", "Settings"],
  ["team", "Team"],
  ["knowledge", "Knowledge base"],
  ["analytics", "Analytics"],
];
const tabButtons = TABS.map(([tab, label]) =>
  el("button", { type: "button", class: "tab", "data-tab": tab, onclick: () => void show(tab) }, label),
);

function say(message: string, error = false): void {
  flash.textContent = message;
  flash.className = error ? "flash error" : "flash";
}

function fail(error: unknown): void {
  say(error instanceof Error ? error.message : String(error), true);
}

function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), input, hint ? el("small", {}, hint) : null);
}

function input(attrs: Record<string, string | number | boolean | null | undefined>, value: unknown = ""): HTMLInputElement {
  const node = el("input", attrs);
  if (attrs.type === "checkbox") node.checked = Boolean(value);
  else node.value = value === null || value === undefined ? "" : String(value);
  return node;
}

function select(options: string[], value: unknown, attrs: Record<string, string> = {}): HTMLSelectElement {
  const node = el("select", attrs, ...options.map((o) => el("option", { value: o }, o || "any")));
  node.value = value === null || value === undefined ? "" : String(value);
  return node;
}

async function show(tab: Tab): Promise<void> {
  for (const b of tabButtons) b.setAttribute("aria-current", String(b.dataset.tab === tab));
  say("");
  clear(main, el("p", {}, "Loading…"));
  try {
    if (tab === "conversations") await conversations();
    else if (tab === "settings") await settings();
    else if (tab === "team") await team();
    else if (tab === "knowledge") await knowledge();
    else await analytics();
  } catch (error) {
    clear(main);
    fail(error);
  }
}

// -- conversations ----------------------------------------------------------------------

async function conversations(): Promise<void> {
  const from = input({ type: "date", name: "from" });
  const to = input({ type: "date", name: "to" });
  const status = select(["", "active", "pending", "flagged", "resolved", "error"], "", { name: "status" });
  const band = select(["", "low", "medium", "high", "none"], "", { name: "confidence" });
  const language = input({ type: "text", name: "language", placeholder: "e.g. en", maxlength: 12, size: 6 });
  const escalated = select(["", "true", "false"], "", { name: "escalated" });
  const q = input({ type: "search", name: "q", placeholder: "Search text, visitor, id", maxlength: 200 });
  const results = el("table", { class: "results", "data-testid": "conversation-results" });
  const detail = el("section", { class: "detail", "data-testid": "conversation-detail", "aria-label": "Conversation detail" });
  const count = el("p", { class: "count", "data-testid": "result-count" });
  const form = el(
    "form",
    { class: "filters", "data-testid": "conversation-filters" },
    field("From", from),
    field("To", to),
    field("Status", status),
    field("Confidence", band),
    field("Language", language),
    field("Escalated", escalated),
    field("Search", q),
    el("button", { type: "submit" }, "Filter"),
  );
  const body = el("tbody", {});
  const more = el("button", { type: "button", "data-action": "more", hidden: true }, "More conversations");
  let nextCursor: string | null = null;
  const row = (c: Json) =>
    el(
      "tr",
      { "data-testid": "conversation-row", "data-id": String(c.conversation_id), "data-status": String(c.status) },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => void openDetail(String(c.conversation_id), detail) }, formatTime(c.created_at))),
      el("td", {}, String(c.status)),
      el("td", {}, String(c.visitor?.name || c.visitor?.id || "anonymous")),
      el("td", {}, String(c.language ?? "–")),
      el("td", { class: `band-${bandOf(c.last_confidence)}` }, formatConfidence(c.last_confidence)),
      el("td", {}, formatDuration(c.duration_seconds)),
      el("td", {}, String(c.escalation_reason ?? "").replace(/_/g, " ")),
      el("td", {}, typeof c.rating === "number" ? `${String(c.rating)}/5` : ""),
    );
  // The conversation service filters (and searches) in its database, a page at a time;
  // "More conversations" asks for the page after the last one shown.
  const run = async (cursor: string | null = null) => {
    const params = new URLSearchParams({ limit: "50" });
    if (from.value) params.set("from", from.value);
    if (to.value) params.set("to", to.value);
    if (status.value) params.set("status", status.value);
    if (band.value) params.set("confidence", band.value);
    if (language.value.trim()) params.set("language", language.value.trim());
    if (escalated.value) params.set("escalated", escalated.value);
    if (q.value.trim()) params.set("q", q.value.trim());
    if (cursor) params.set("cursor", cursor);
    const page = await session.call<{ conversations: Json[]; total: number; total_capped?: boolean; next_cursor?: string | null }>(
      "GET",
      `/v1/admin/conversations?${params}`,
    );
    count.textContent = `${page.total}${page.total_capped ? "+" : ""} conversation${page.total === 1 ? "" : "s"}`;
    count.dataset.total = String(page.total);
    if (!cursor) {
      clear(
        results,
        el(
          "thead",
          {},
          el("tr", {}, ...["Started", "Status", "Visitor", "Language", "Confidence", "Duration", "Escalation", "Rating"].map((h) => el("th", {}, h))),
        ),
        body,
      );
      clear(body);
    }
    body.append(...page.conversations.map(row));
    nextCursor = page.next_cursor ?? null;
    more.hidden = nextCursor === null;
  };
  more.addEventListener("click", () => {
    if (nextCursor) run(nextCursor).catch(fail);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run().catch(fail);
  });
  clear(main, el("h2", {}, "Conversations"), form, count, results, more, detail);
  await run();
}

async function openDetail(id: string, detail: HTMLElement): Promise<void> {
  try {
    const view = await session.call<Json>("GET", `/v1/admin/conversations/${encodeURIComponent(id)}`);
    const c = view.conversation as Json;
    clear(
      detail,
      el("h3", {}, `Conversation ${id}`),
      el("p", { class: "meta" }, `Status ${String(c.status)} · ${formatDuration(c.duration_seconds)} · ${String(c.language ?? "")}`),
      el(
        "ol",
        { class: "messages" },
        ...(view.messages as Json[]).map((m) =>
          el(
            "li",
            { class: `msg author-${String(m.author)}`, "data-author": String(m.author), "data-state": String(m.state ?? "posted") },
            el("span", { class: "author" }, String(m.author_name ?? m.author)),
            el("time", {}, formatTime(m.created_at)),
            typeof m.confidence === "number" ? el("span", { class: "confidence" }, formatConfidence(m.confidence)) : null,
            m.state && m.state !== "posted" ? el("span", { class: "state" }, String(m.state)) : null,
            el("p", { class: "text" }, String(m.text ?? "")),
          ),
        ),
      ),
      (view.notes as Json[]).length
        ? el(
            "section",
            { class: "internal" },
            el("h4", {}, "Internal notes"),
            el("ul", {}, ...(view.notes as Json[]).map((n) => el("li", { class: "note" }, `${String(n.agent?.name ?? "")}: `, String(n.text)))),
          )
        : null,
    );
    detail.scrollIntoView({ block: "nearest" });
  } catch (error) {
    fail(error);
  }
}

// -- settings ---------------------------------------------------------------------------

async function settings(): Promise<void> {
  const [site, routing] = await Promise.all([session.call<Json>("GET", "/v1/admin/site"), session.call<Json>("GET", "/v1/admin/routing")]);
  const name = input({ type: "text", maxlength: 200, required: true }, site.name);
  const greeting = el("textarea", { rows: 2, maxlength: 1000 });
  greeting.value = String(site.greeting ?? "");
  const origins = el("textarea", { rows: 3, id: "allowed-origins" });
  origins.value = (site.allowed_origins as string[]).join("\n");
  const holdBelow = input({ type: "number", min: 0, max: 1, step: 0.05, id: "hold-below" }, site.hold_below_confidence);
  const holdSeconds = input({ type: "number", min: 5, max: 3600, step: 1 }, site.hold_seconds);
  const timeoutAction = select(["send", "fallback"], site.hold_timeout_action);
  const fallback = el("textarea", { rows: 2, maxlength: 1000 });
  fallback.value = String(site.fallback_text ?? "");
  const aiResumes = input({ type: "checkbox" }, site.ai_resumes_after_agent);
  const requireIdentity = input({ type: "checkbox" }, site.require_identity);
  const secret = input({ type: "password", minlength: 16, maxlength: 200, autocomplete: "off", placeholder: site.identity_secret ? "(set; leave empty to keep)" : "" });
  const showConfidence = input({ type: "checkbox" }, site.show_confidence);
  const color = input({ type: "text", pattern: "#([0-9a-fA-F]{3}){1,2}", maxlength: 7, placeholder: "#2f5bea" }, site.widget?.color ?? "");
  const position = select(["bottom-right", "bottom-left"], site.widget?.position ?? "bottom-right");
  const hours = routing.business_hours as Json | null;
  const timezone = input({ type: "text", maxlength: 64 }, hours?.timezone ?? "UTC");
  const dayInputs = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => {
    const range = (hours?.days?.[day] as string[] | undefined) ?? null;
    return {
      day,
      open: input({ type: "checkbox", "aria-label": `${day} open` }, Boolean(range)),
      from: input({ type: "time", "aria-label": `${day} opens` }, range?.[0] ?? "09:00"),
      to: input({ type: "time", "aria-label": `${day} closes` }, range?.[1] ?? "17:00"),
    };
  });
  const hoursOn = input({ type: "checkbox" }, Boolean(hours));
  const offline = el("textarea", { rows: 2, maxlength: 1000 });
  offline.value = String(routing.offline_message ?? "");

  const save = el("button", { type: "submit" }, "Save settings");
  const form = el(
    "form",
    { class: "settings", "data-testid": "settings-form" },
    el("fieldset", {}, el("legend", {}, "Site"), field("Name", name), field("Greeting", greeting), field("Allowed origins (one a line)", origins, "e.g. https://www.example.com")),
    el(
      "fieldset",
      {},
      el("legend", {}, "AI answers and hand-back"),
      field("Hold AI answers below confidence (0–1; empty: never hold)", holdBelow),
      field("Hold for (seconds)", holdSeconds),
      field("When nobody reviews in time", timeoutAction),
      field("Fallback text", fallback),
      field("AI answers again when an agent leaves", aiResumes),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Visitors and widget"),
      field("Require identity verification (HMAC)", requireIdentity),
      field("Identity verification secret", secret, "16+ characters; used on your server to sign visitor ids"),
      field("Show confidence to visitors", showConfidence),
      field("Colour", color),
      field("Position", position),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Business hours"),
      field("Use business hours", hoursOn),
      field("Time zone (IANA)", timezone),
      el("table", { class: "hours" }, ...dayInputs.map((d) => el("tr", {}, el("th", {}, d.day), el("td", {}, d.open), el("td", {}, d.from), el("td", {}, d.to)))),
      field("Message outside business hours", offline),
    ),
    save,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body: Json = {
      name: name.value.trim(),
      greeting: greeting.value.trim(),
      allowed_origins: origins.value.split(/\s+/).filter(Boolean),
      hold_seconds: Number(holdSeconds.value),
      hold_timeout_action: timeoutAction.value,
      ai_resumes_after_agent: aiResumes.checked,
      require_identity: requireIdentity.checked,
      show_confidence: showConfidence.checked,
      widget: { position: position.value, ...(color.value.trim() ? { color: color.value.trim() } : {}) },
    };
    if (holdBelow.value === "") body.hold_disabled = true;
    else body.hold_below_confidence = Number(holdBelow.value);
    if (fallback.value.trim()) body.fallback_text = fallback.value.trim();
    if (secret.value) body.identity_secret = secret.value;
    const routingBody: Json = { offline_message: offline.value.trim() || null, vip_visitor_ids: routing.vip_visitor_ids ?? [] };
    if (hoursOn.checked) {
      routingBody.business_hours = {
        timezone: timezone.value.trim() || "UTC",
        days: Object.fromEntries(dayInputs.filter((d) => d.open.checked).map((d) => [d.day, [d.from.value, d.to.value]])),
      };
    }
    save.disabled = true;
    Promise.all([session.call("PUT", "/v1/admin/site", body), session.call("PUT", "/v1/admin/routing", routingBody)])
      .then(() => say("Settings saved."))
      .catch(fail)
      .finally(() => {
        save.disabled = false;
      });
  });
  clear(main, el("h2", {}, "Settings"), el("p", {}, `Public widget key: `, el("code", {}, String(site.public_key))), form);
}

// -- team -------------------------------------------------------------------------------

async function team(): Promise<void> {
  const body = await session.call<{ agents: Json[] }>("GET", "/v1/admin/agents");
  const invitePanel = await invitations();
  const editor = el("section", { class: "editor" });
  const edit = (agent: Json | null) => {
    const agentId = input({ type: "text", pattern: "[A-Za-z0-9_-]{16,64}", required: true, readonly: Boolean(agent) }, agent?.agent_id ?? "");
    const email = input({ type: "email", required: true }, agent?.email ?? "");
    const name = input({ type: "text", required: true, maxlength: 200 }, agent?.name ?? "");
    const role = select(["agent", "admin", "owner"], agent?.role ?? "agent");
    const skills = input({ type: "text", placeholder: "billing, technical" }, (agent?.skills ?? []).join(", "));
    const languages = input({ type: "text", placeholder: "en, fr" }, (agent?.languages ?? []).join(", "));
    const maxConcurrent = input({ type: "number", min: 0, max: 100 }, agent?.max_concurrent ?? 3);
    const active = input({ type: "checkbox" }, agent ? agent.active : true);
    const password = input({ type: "password", minlength: 8, autocomplete: "new-password", placeholder: agent ? "(unchanged)" : "" });
    const form = el(
      "form",
      { class: "agent-form", "data-testid": "agent-form" },
      el("h3", {}, agent ? `Edit ${String(agent.name)}` : "Add an agent"),
      field("Agent id", agentId),
      field("Email", email),
      field("Name", name),
      field("Role", role),
      field("Skills (comma-separated)", skills),
      field("Languages (comma-separated)", languages),
      field("Max concurrent conversations", maxConcurrent),
      field("Active", active),
      field("Password", password, agent ? "leave empty to keep it" : "8+ characters"),
      el("button", { type: "submit" }, "Save agent"),
    );
    const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const payload: Json = {
        email: email.value.trim(),
        name: name.value.trim(),
        role: role.value,
        skills: list(skills.value),
        languages: list(languages.value),
        max_concurrent: Number(maxConcurrent.value),
        active: active.checked,
      };
      if (password.value) payload.password = password.value;
      session
        .call("PUT", `/v1/admin/agents/${encodeURIComponent(agentId.value.trim())}`, payload)
        .then(() => team())
        .then(() => say("Agent saved."))
        .catch(fail);
    });
    clear(editor, form);
  };
  clear(
    main,
    el("h2", {}, "Team"),
    el(
      "table",
      { class: "results", "data-testid": "team" },
      el("thead", {}, el("tr", {}, ...["Name", "Email", "Role", "Skills", "Languages", "Max", "Status", ""].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...body.agents.map((a) =>
          el(
            "tr",
            { "data-agent-id": String(a.agent_id) },
            el("td", {}, String(a.name)),
            el("td", {}, String(a.email)),
            el("td", {}, String(a.role)),
            el("td", {}, (a.skills as string[]).join(", ")),
            el("td", {}, (a.languages as string[]).join(", ")),
            el("td", {}, String(a.max_concurrent)),
            el("td", {}, a.active ? String(a.presence?.status ?? "offline") : "inactive"),
            el("td", {}, el("button", { type: "button", class: "link", onclick: () => edit(a) }, "Edit")),
          ),
        ),
      ),
    ),
    el("button", { type: "button", "data-action": "add-agent", onclick: () => edit(null) }, "Add an agent"),
    editor,
    invitePanel,
  );
}

// -- invitations (on the team page) -------------------------------------------------------

/** The roles each role may grant: never above one's own. */
const GRANTABLE: Record<string, string[]> = { owner: ["agent", "admin", "owner"], admin: ["agent", "admin"] };

async function invitations(): Promise<HTMLElement> {
  const grantable = GRANTABLE[session.agent?.role ?? "agent"] ?? [];
  const email = input({ type: "email", name: "invite-email", required: true, maxlength: 320, placeholder: "teammate@example.com" });
  const role = select(grantable, "agent", { name: "invite-role" });
  const link = el("div", { class: "invite-link", "data-testid": "invite-link", "aria-live": "polite" });
  const pending = el("table", { class: "results", "data-testid": "invitations" });
  const render = (listed: Json[]) =>
    clear(
      pending,
      el("thead", {}, el("tr", {}, ...["Email", "Role", "Invited by", "Expires", "State", ""].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...listed.map((i) =>
          el(
            "tr",
            { "data-invitation-id": String(i.invitation_id), "data-email": String(i.email), "data-state": String(i.state) },
            el("td", {}, String(i.email)),
            el("td", {}, String(i.role)),
            el("td", {}, String(i.invited_by?.name ?? "")),
            el("td", {}, formatTime(i.expires_at)),
            el("td", {}, String(i.state)),
            el(
              "td",
              {},
              grantable.includes(String(i.role))
                ? el("button", { type: "button", class: "link", "data-action": "revoke", onclick: () => void revoke(String(i.invitation_id)) }, "Withdraw")
                : null,
            ),
          ),
        ),
      ),
    );
  const reload = async () => render((await session.call<{ invitations: Json[] }>("GET", "/v1/admin/invitations")).invitations);
  const revoke = async (id: string) => {
    try {
      await session.call("DELETE", `/v1/admin/invitations/${encodeURIComponent(id)}`);
      await reload();
      say("Invitation withdrawn: its link no longer works.");
    } catch (error) {
      fail(error);
    }
  };
  const form = el(
    "form",
    { class: "invite-form", "data-testid": "invite-form" },
    el("h3", {}, "Invite a teammate"),
    field("Email", email),
    field("Role", role, "never above your own"),
    el("button", { type: "submit" }, "Create invitation"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    session
      .call<Json>("POST", "/v1/admin/invitations", { email: email.value.trim(), role: role.value })
      .then(async (created) => {
        // Shown once: only a digest of the token is kept. The token sits after '#', so
        // opening the link never sends it to a server.
        const url = `${window.location.origin}${String(created.accept_path)}`;
        const shown = input({ type: "text", readonly: true, size: 70, "data-testid": "invite-url", "aria-label": "Invitation link" }, url);
        const copy = el("button", { type: "button", "data-action": "copy-link" }, "Copy link");
        copy.addEventListener("click", () => {
          shown.select();
          navigator.clipboard?.writeText(url).then(
            () => say("Link copied."),
            () => undefined,
          );
        });
        clear(
          link,
          el("p", {}, `Send this link to ${String(created.email)} yourself. It is shown only now, works once, and expires ${formatTime(created.expires_at)}.`),
          shown,
          copy,
        );
        email.value = "";
        await reload();
        say("Invitation created.");
      })
      .catch(fail);
  });
  await reload();
  return el("section", { class: "invitations", "aria-label": "Invitations" }, form, link, el("h3", {}, "Open invitations"), pending);
}

// -- knowledge base ---------------------------------------------------------------------
// Files are uploaded as they are (multipart: Markdown, text, HTML, PDF) and crawls started
// here; both are indexed as jobs by the answering service. A big file or a crawl is still
// running when its request answers: its job is polled until it ends.

function documentId(filename: string): string {
  const base = filename.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  return (base || `doc-${Date.now()}`).slice(0, 80);
}

const UPLOAD_ACCEPT = ".md,.markdown,.txt,.html,.htm,.pdf,text/markdown,text/plain,text/html,application/pdf";
const POLL_MS = 1000;

/** POST a multipart form with the session's token (refreshed once on a 401), errors as ApiError. */
async function postForm<T>(path: string, form: FormData, retried = false): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${session.accessToken}` }, body: form, credentials: "omit" });
  } catch {
    throw new ApiError(0, "offline", "The gateway cannot be reached. Check the connection.");
  }
  if (response.status === 401 && !retried) {
    await session.refresh();
    return postForm<T>(path, form, true);
  }
  const parsed = (await response.json().catch(() => null)) as Json | null;
  if (!response.ok) {
    const error = parsed?.error as Json | undefined;
    throw new ApiError(response.status, String(error?.code ?? "error"), String(error?.message ?? `request failed (${response.status})`));
  }
  return parsed as T;
}

function jobSummary(job: Json): string {
  const finished = Number(job.done) + Number(job.failed) + Number(job.skipped);
  const parts = [`${finished}/${Math.max(Number(job.total), finished)} ${String(job.unit)}`];
  if (job.failed) parts.push(`${String(job.failed)} failed`);
  if (job.skipped) parts.push(`${String(job.skipped)} skipped`);
  return parts.join(" · ");
}

function progressBar(job: Json): HTMLProgressElement {
  const finished = Number(job.done) + Number(job.failed) + Number(job.skipped);
  const bar = el("progress", { max: Math.max(Number(job.total), finished, 1), "aria-label": "progress" });
  bar.value = job.state === "running" ? finished : bar.max;
  return bar;
}

/** Polls a running job until it ends (or the page is left); calls ``onChange`` each time. */
function pollJob(path: string, isShown: () => boolean, onChange: (job: Json) => void): Promise<Json> {
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (!isShown()) return;
      session
        .call<Json>("GET", path)
        .then((job) => {
          onChange(job);
          if (job.state === "running") window.setTimeout(tick, POLL_MS);
          else resolve(job);
        })
        .catch(reject);
    };
    window.setTimeout(tick, POLL_MS);
  });
}

function crawlRow(job: Json): HTMLTableRowElement {
  const problems = (job.problems ?? []) as Json[];
  return el(
    "tr",
    { "data-job-id": String(job.job_id), "data-state": String(job.state) },
    el("td", {}, formatTime(job.created_at)),
    el("td", {}, el("code", {}, String(job.request?.start_url ?? "")), job.request?.sitemap ? " (sitemap)" : ""),
    el("td", { class: `job-${String(job.state)}`, "data-testid": "crawl-state" }, String(job.state)),
    el("td", {}, progressBar(job), " ", el("span", { "data-testid": "crawl-progress" }, jobSummary(job))),
    el(
      "td",
      {},
      job.error ? el("p", { class: "error" }, String(job.error)) : null,
      job.note ? el("p", { class: "meta" }, String(job.note)) : null,
      job.state === "running" && job.current ? el("p", { class: "meta" }, `Now: ${String(job.current)}`) : null,
      problems.length
        ? el(
            "details",
            {},
            el("summary", {}, `${problems.length} not indexed`),
            el("ul", { "data-testid": "crawl-problems" }, ...problems.map((p) => el("li", {}, el("code", {}, String(p.item)), ` ${String(p.outcome)}: ${String(p.reason ?? "")}`))),
          )
        : null,
    ),
  );
}

async function knowledge(): Promise<void> {
  const [body, crawls] = await Promise.all([
    session.call<{ documents: Json[]; total: number }>("GET", "/v1/admin/documents?limit=500"),
    session.call<{ jobs: Json[] }>("GET", "/v1/admin/crawls?limit=5"),
  ]);
  const file = input({ type: "file", accept: UPLOAD_ACCEPT, id: "kb-file", "data-testid": "kb-file" });
  const title = input({ type: "text", maxlength: 300, id: "kb-title", placeholder: "defaults to the document's own title or the file name" });
  const upload = el("button", { type: "submit", "data-action": "upload" }, "Upload and index");
  const uploadProgress = el("p", { class: "meta", "data-testid": "upload-progress" });
  const form = el(
    "form",
    { class: "upload", "data-testid": "kb-upload" },
    field("File (Markdown, text, HTML or PDF)", file),
    field("Title", title),
    upload,
    uploadProgress,
  );
  const shown = () => main.contains(form);
  const indexed = (job: Json) => {
    const document = (job.result?.document ?? {}) as Json;
    return `Indexed “${String(document.title)}”: ${String(document.chunks)} passages (${String(job.result?.status)}).`;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) {
      say("Choose a file first.", true);
      return;
    }
    const data = new FormData();
    data.append("file", chosen, chosen.name);
    data.append("document_id", documentId(chosen.name));
    if (title.value.trim()) data.append("title", title.value.trim());
    upload.disabled = true;
    say(`Indexing ${chosen.name}…`);
    postForm<Json>("/v1/admin/uploads", data)
      .then((job) =>
        job.state === "running"
          ? pollJob(`/v1/admin/uploads/${encodeURIComponent(String(job.job_id))}`, shown, (now) => {
              uploadProgress.textContent = `Indexing ${chosen.name}: ${jobSummary(now)}`;
            })
          : job,
      )
      .then((job) => {
        if (job.state === "failed") throw new Error(`Indexing ${chosen.name} failed: ${String(job.error)}`);
        return knowledge().then(() => say(indexed(job)));
      })
      .catch(fail)
      .finally(() => {
        upload.disabled = false;
      });
  });

  const startUrl = input({ type: "url", required: true, maxlength: 2000, id: "crawl-url", "data-testid": "crawl-url", placeholder: "https://help.example.com/" });
  const sitemap = input({ type: "checkbox", id: "crawl-sitemap", "data-testid": "crawl-sitemap" }, false);
  const maxPages = input({ type: "number", min: 1, max: 5000, id: "crawl-max-pages", placeholder: "200" });
  const crawlButton = el("button", { type: "submit", "data-action": "crawl" }, "Crawl and index");
  const crawlForm = el(
    "form",
    { class: "upload crawl", "data-testid": "kb-crawl" },
    field("Start page or sitemap URL", startUrl, "same host only; robots.txt is obeyed; HTML pages and PDFs"),
    field("The URL is a sitemap.xml", sitemap),
    field("Pages at most", maxPages),
    crawlButton,
  );
  const crawlRows = el("tbody", {}, ...crawls.jobs.map(crawlRow));
  const crawlTable = el(
    "table",
    { class: "results", "data-testid": "crawls" },
    el("thead", {}, el("tr", {}, ...["Started", "From", "State", "Progress", ""].map((h) => el("th", {}, h)))),
    crawlRows,
  );
  const follow = (job: Json) => {
    const path = `/v1/admin/crawls/${encodeURIComponent(String(job.job_id))}`;
    const replaceRow = (now: Json) => {
      const row = crawlRows.querySelector(`tr[data-job-id="${String(now.job_id)}"]`);
      if (row) row.replaceWith(crawlRow(now));
      else crawlRows.prepend(crawlRow(now));
    };
    replaceRow(job);
    // The last poll's answer is the finished job, problems included.
    return pollJob(path, () => main.contains(crawlTable), replaceRow);
  };
  crawlForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const request: Json = { start_url: startUrl.value.trim(), sitemap: sitemap.checked };
    if (maxPages.value) request.max_pages = Number(maxPages.value);
    crawlButton.disabled = true;
    session
      .call<Json>("POST", "/v1/admin/crawls", request)
      .then((job) => {
        say(`Crawling ${String(request.start_url)}…`);
        return follow(job);
      })
      .then((job) => {
        if (!main.contains(crawlTable)) return;
        const text = `Crawl ${String(job.state)}: ${jobSummary(job)}.`;
        return knowledge().then(() => say(text, job.state === "failed"));
      })
      .catch(fail)
      .finally(() => {
        crawlButton.disabled = false;
      });
  });
  for (const job of crawls.jobs) if (job.state === "running") void follow(job).catch(fail);

  clear(
    main,
    el("h2", {}, "Knowledge base"),
    el("p", {}, `${body.total} documents. Uploading a file with the same name replaces and re-indexes it; crawling again replaces the pages that changed.`),
    form,
    el("h3", {}, "Crawl a website"),
    crawlForm,
    crawlTable,
    el("h3", {}, "Documents"),
    el(
      "table",
      { class: "results", "data-testid": "documents" },
      el("thead", {}, el("tr", {}, ...["Title", "Id", "Language", "Passages", "Indexed", ""].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...body.documents.map((d) =>
          el(
            "tr",
            { "data-document-id": String(d.document_id) },
            el("td", {}, String(d.title)),
            el("td", {}, el("code", {}, String(d.document_id))),
            el("td", {}, String(d.language)),
            el("td", {}, String(d.chunks)),
            el("td", {}, formatTime(d.indexed_at)),
            el(
              "td",
              {},
              el(
                "button",
                {
                  type: "button",
                  class: "link danger",
                  "data-action": "delete",
                  onclick: () => {
                    if (!window.confirm(`Delete “${String(d.title)}” from the knowledge base?`)) return;
                    session
                      .call("DELETE", `/v1/admin/documents/${encodeURIComponent(String(d.document_id))}`)
                      .then(() => knowledge())
                      .then(() => say("Document deleted."))
                      .catch(fail);
                  },
                },
                "Delete",
              ),
            ),
          ),
        ),
      ),
    ),
  );
  main.append(await answeringPolicy());
}

// -- answering policy: threshold, fallback text, curated answers (on the knowledge page) --

async function answeringPolicy(): Promise<HTMLElement> {
  const [policy, curated] = await Promise.all([
    session.call<Json>("GET", "/v1/admin/answering-settings"),
    session.call<{ curated_answers: Json[]; total: number; max_per_site: number }>("GET", "/v1/admin/curated-answers"),
  ]);
  const defaults = policy.defaults as Json;
  const threshold = input(
    { type: "number", min: 0, max: 1, step: 0.05, id: "answer-threshold", "data-testid": "answer-threshold", placeholder: `default ${String(defaults.answer_threshold)}` },
    policy.uses_default?.answer_threshold ? "" : policy.answer_threshold,
  );
  const fallback = el("textarea", { rows: 2, maxlength: 1000, id: "answer-fallback", "data-testid": "answer-fallback", placeholder: String(defaults.fallback_text) });
  fallback.value = policy.uses_default?.fallback_text ? "" : String(policy.fallback_text ?? "");
  const save = el("button", { type: "submit" }, "Save");
  const settingsForm = el(
    "form",
    { class: "settings", "data-testid": "answering-settings" },
    el(
      "fieldset",
      {},
      el("legend", {}, "AI answers"),
      field("Answer threshold (0–1)", threshold, "The AI answers only when its confidence is at least this; empty: the default."),
      field("Reply when the AI is not sure enough", fallback, "The visitor reads this and is offered a person; empty: the default shown."),
      save,
    ),
  );
  settingsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const body: Json = {
      answer_threshold: threshold.value === "" ? null : Number(threshold.value),
      fallback_text: fallback.value.trim() || null,
    };
    save.disabled = true;
    session
      .call("PUT", "/v1/admin/answering-settings", body)
      .then(() => say("Answer settings saved."))
      .catch(fail)
      .finally(() => {
        save.disabled = false;
      });
  });

  const panel = el("section", { class: "curated", "data-testid": "curated-answers", "aria-label": "Curated answers" });
  const editor = el("section", { class: "editor", "data-testid": "curated-editor" });
  const refresh = () =>
    answeringPolicy()
      .then((fresh) => {
        section.replaceWith(fresh);
      })
      .catch(fail);
  const edit = (entry: Json | null) => {
    const question = input({ type: "text", required: true, maxlength: 300, name: "question" }, entry?.question ?? "");
    const alternatives = el("textarea", { rows: 3, name: "alternatives", placeholder: "One a line, e.g. When are you open?" });
    alternatives.value = ((entry?.alternatives ?? []) as string[]).join("\n");
    const answer = el("textarea", { rows: 4, required: true, maxlength: 4000, name: "answer" });
    answer.value = String(entry?.answer ?? "");
    const title = input({ type: "text", maxlength: 300, name: "title", placeholder: "defaults to the question" }, entry?.title ?? "");
    const url = input({ type: "url", maxlength: 2000, name: "url", placeholder: "https://…" }, entry?.url ?? "");
    const submit = el("button", { type: "submit" }, "Save curated answer");
    const form = el(
      "form",
      { class: "curated-form", "data-testid": "curated-form" },
      el("h4", {}, entry ? "Edit curated answer" : "Add a curated answer"),
      field("Question", question),
      field("Other ways visitors ask it (one a line, up to 10)", alternatives),
      field("Answer", answer),
      field("Source title", title),
      field("Source URL", url),
      submit,
      el("button", { type: "button", class: "link", onclick: () => clear(editor) }, "Cancel"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body: Json = {
        question: question.value.trim(),
        alternatives: alternatives.value.split("\n").map((s) => s.trim()).filter(Boolean),
        answer: answer.value.trim(),
        title: title.value.trim() || null,
        url: url.value.trim() || null,
      };
      submit.disabled = true;
      const saved = entry
        ? session.call("PUT", `/v1/admin/curated-answers/${encodeURIComponent(String(entry.curated_id))}`, body)
        : session.call("POST", "/v1/admin/curated-answers", body);
      saved
        .then(() => refresh())
        .then(() => say("Curated answer saved."))
        .catch(fail)
        .finally(() => {
          submit.disabled = false;
        });
    });
    clear(editor, form);
    question.focus();
  };
  const preview = (text: unknown) => {
    const value = String(text ?? "");
    return value.length > 140 ? `${value.slice(0, 139)}…` : value;
  };
  clear(
    panel,
    el("h3", {}, "Curated answers"),
    el(
      "p",
      {},
      `A curated answer wins over the documents when a visitor asks its question, or one of its other phrasings, in the same or very close words. ${curated.total} of ${curated.max_per_site}.`,
    ),
    el(
      "table",
      { class: "results", "data-testid": "curated-list" },
      el("thead", {}, el("tr", {}, ...["Question", "Answer", "Source", ""].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        ...curated.curated_answers.map((c) =>
          el(
            "tr",
            { "data-curated-id": String(c.curated_id) },
            el(
              "td",
              {},
              String(c.question),
              (c.alternatives as string[]).length ? el("small", { class: "meta" }, ` +${(c.alternatives as string[]).length} other phrasings`) : null,
            ),
            el("td", {}, preview(c.answer)),
            el("td", {}, String(c.title ?? ""), c.url ? el("small", { class: "meta" }, ` ${String(c.url)}`) : null),
            el(
              "td",
              {},
              el("button", { type: "button", class: "link", "data-action": "edit-curated", onclick: () => edit(c) }, "Edit"),
              " ",
              el(
                "button",
                {
                  type: "button",
                  class: "link danger",
                  "data-action": "delete-curated",
                  onclick: () => {
                    if (!window.confirm(`Delete the curated answer to “${String(c.question)}”?`)) return;
                    session
                      .call("DELETE", `/v1/admin/curated-answers/${encodeURIComponent(String(c.curated_id))}`)
                      .then(() => refresh())
                      .then(() => say("Curated answer deleted."))
                      .catch(fail);
                  },
                },
                "Delete",
              ),
            ),
          ),
        ),
      ),
    ),
    el("button", { type: "button", "data-action": "add-curated", onclick: () => edit(null) }, "Add a curated answer"),
    editor,
  );
  const section = el("section", { class: "answering-policy" }, settingsForm, panel);
  return section;
}

// -- analytics --------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function barChart(title: string, labels: string[], values: number[], format: (v: number) => string, max?: number): HTMLElement {
  const width = 640;
  const height = 180;
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const barWidth = labels.length ? Math.min(60, (width - 40) / labels.length) : 0;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 30}`, role: "img", "aria-label": title, class: "chart" });
  chart.append(svg("title", {}, title));
  values.forEach((value, i) => {
    const h = (value / top) * height;
    const bar = svg("rect", { x: 30 + i * barWidth + 1, y: height - h + 5, width: Math.max(1, barWidth - 2), height: h, class: "bar" });
    bar.append(svg("title", {}, `${labels[i]}: ${format(value)}`));
    chart.append(bar);
    if (labels.length <= 31 && (labels.length <= 12 || i % 3 === 0)) {
      chart.append(svg("text", { x: 30 + i * barWidth + barWidth / 2, y: height + 22, "text-anchor": "middle", class: "axis" }, labels[i]));
    }
  });
  chart.append(svg("text", { x: 0, y: 14, class: "axis" }, format(top)));
  return el("figure", {}, el("figcaption", {}, title), chart as unknown as HTMLElement);
}

async function analytics(): Promise<void> {
  const s = await session.call<Json>("GET", "/v1/admin/analytics/summary");
  const pct = (v: unknown) => (typeof v === "number" ? `${Math.round(v * 100)}%` : "–");
  const numbers: Array<[string, string]> = [
    ["Conversations", String(s.conversations ?? 0)],
    ["Messages", String(s.messages ?? 0)],
    ["AI answers", String(s.ai_answers ?? 0)],
    ["Answered by AI", pct(s.answered_rate)],
    ["Mean confidence", pct(s.mean_confidence)],
    ["Escalated", pct(s.escalation_rate)],
    ["Resolved", pct(s.resolution_rate)],
    ["Satisfaction", s.csat?.mean ? `${Number(s.csat.mean).toFixed(1)} / 5 (${String(s.csat.count)})` : "–"],
  ];
  const trend = (s.confidence_trend ?? []) as Json[];
  const peaks = (s.peak_hours ?? []) as number[];
  const gaps = (s.knowledge_gaps ?? []) as Json[];
  clear(
    main,
    el("h2", {}, "Analytics"),
    el("p", { class: "meta" }, `${formatTime(s.from)} – ${formatTime(s.to)}`),
    el("dl", { class: "numbers", "data-testid": "numbers" }, ...numbers.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v)))),
    barChart(
      "Confidence trend (mean per day)",
      trend.map((d) => String(d.day).slice(5)),
      trend.map((d) => Number(d.mean_confidence ?? 0)),
      (v) => `${Math.round(v * 100)}%`,
      1,
    ),
    barChart(
      "Peak hours (AI answers per hour of day, UTC)",
      peaks.map((_, hour) => String(hour)),
      peaks.map(Number),
      (v) => String(Math.round(v)),
    ),
    el("h3", {}, "Knowledge gaps: questions answered with low confidence"),
    el(
      "table",
      { class: "results" },
      el("thead", {}, el("tr", {}, el("th", {}, "Question"), el("th", {}, "Asked"), el("th", {}, "Mean confidence"))),
      el("tbody", {}, ...gaps.map((g) => el("tr", {}, el("td", {}, String(g.question)), el("td", {}, String(g.count)), el("td", {}, pct(g.mean_confidence))))),
    ),
  );
}

// -- start ------------------------------------------------------------------------------

function start(agent: AgentInfo): void {
  const signOut = el("button", { type: "button", class: "link", onclick: () => void session.logout() }, "Sign out");
  if (agent.role !== "owner" && agent.role !== "admin") {
    clear(
      root,
      el(
        "section",
        { class: "login", "data-testid": "not-allowed", role: "alert" },
        el("h1", {}, "Not allowed"),
        el("p", {}, `${agent.name}, the dashboard is for the site's owners and admins. Agents work in the console.`),
        el("a", { href: "/console" }, "Open the console"),
        " ",
        signOut,
      ),
    );
    return;
  }
  clear(
    root,
    el(
      "header",
      { class: "top" },
      el("h1", {}, "Tandem dashboard"),
      el("nav", { class: "tabs", "aria-label": "Sections" }, ...tabButtons),
      el("span", { class: "who", "data-testid": "agent-name" }, `${agent.name} (${agent.role})`),
      signOut,
    ),
    flash,
    main,
  );
  void show("conversations");
}

session.onSignedOut = () => void loginForm(root, session, "Sign in to the Tandem dashboard").then(start);
void session.restore().then((agent) => (agent ? start(agent) : loginForm(root, session, "Sign in to the Tandem dashboard").then(start)));
