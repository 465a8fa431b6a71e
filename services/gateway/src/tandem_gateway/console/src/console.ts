// The agent console: sign in, the site's conversations live over WS /v1/agent/stream,
// and one conversation at a time to read, take over, answer and close (docs/console.md).
// Reads go through the REST views (the record); commands and live frames through the socket.

import {
  ApiError,
  Session,
  clear,
  el,
  formatConfidence,
  formatDuration,
  formatTime,
  bandOf,
  loginForm,
  type AgentInfo,
} from "./common";

type Json = Record<string, any>;
type Filter = "waiting" | "flagged" | "mine" | "all";

const session = new Session();
const root = document.getElementById("app") as HTMLElement;
const BASE_TITLE = document.title;

let me: AgentInfo | null = null;
let filter: Filter = "waiting";
let selected: string | null = null;
let socket: WebSocket | null = null;
let socketReady = false;
let reconnectDelay = 500;
let unseenEscalations = 0;
let roster: Json[] = [];
let lastTyping = 0;
let listTimer: number | undefined;
let viewTimer: number | undefined;
const pending = new Map<string, { resolve: (f: Json) => void; reject: (e: Error) => void; timer: number }>();

// -- layout ---------------------------------------------------------------------------

const statusLine = el("p", { class: "connection", "data-testid": "connection", role: "status" }, "Connecting…");
const badge = el("span", { class: "badge", "data-testid": "escalation-badge", hidden: true });
const toast = el("div", { class: "toast", "data-testid": "notification", role: "alert", hidden: true });
const presence = el(
  "select",
  { id: "presence", "data-testid": "presence", "aria-label": "My status" },
  el("option", { value: "available" }, "Available"),
  el("option", { value: "busy" }, "Busy"),
  el("option", { value: "away" }, "Away"),
);
const listEl = el("ul", { class: "conversations", "data-testid": "conversation-list", "aria-live": "polite" });
const viewEl = el("section", { class: "view", "data-testid": "conversation-view", "aria-label": "Conversation" });
const filterButtons = (["waiting", "flagged", "mine", "all"] as Filter[]).map((name) =>
  el(
    "button",
    {
      type: "button",
      class: "filter",
      "data-filter": name,
      "aria-pressed": String(name === filter),
      onclick: () => {
        filter = name;
        for (const b of filterButtons) b.setAttribute("aria-pressed", String(b.dataset.filter === name));
        if (name === "waiting") markEscalationsSeen();
        void loadList();
      },
    },
    name[0].toUpperCase() + name.slice(1),
  ),
);

function shell(agent: AgentInfo): void {
  const signOut = el("button", { type: "button", class: "link", onclick: () => void session.logout() }, "Sign out");
  clear(
    root,
    el(
      "header",
      { class: "top" },
      el("h1", {}, "Tandem console"),
      el("span", { class: "who", "data-testid": "agent-name" }, `${agent.name} (${agent.role})`),
      el("label", { class: "presence" }, "Status ", presence),
      el("span", { class: "bell", title: "New escalations" }, "Escalations ", badge),
      statusLine,
      signOut,
    ),
    toast,
    el(
      "main",
      { class: "console" },
      el("nav", { class: "side", "aria-label": "Conversations" }, el("div", { class: "filters", role: "group" }, ...filterButtons), listEl),
      viewEl,
    ),
  );
  clear(viewEl, el("p", { class: "empty" }, "Pick a conversation on the left."));
  presence.onchange = () => {
    command({ type: "set_presence", status: presence.value }).catch(showError);
  };
}

function showError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  toast.hidden = false;
  toast.className = "toast error";
  toast.textContent = message;
  window.setTimeout(() => {
    if (toast.textContent === message) toast.hidden = true;
  }, 6000);
}

// -- notifications --------------------------------------------------------------------

function notifyEscalation(frame: Json): void {
  unseenEscalations += 1;
  badge.hidden = false;
  badge.textContent = String(unseenEscalations);
  document.title = `(${unseenEscalations}) ${BASE_TITLE}`;
  toast.hidden = false;
  toast.className = "toast";
  const reason = String(frame.reason ?? "escalation").replace(/_/g, " ");
  clear(
    toast,
    el("strong", {}, "New escalation: "),
    reason,
    frame.summary ? ` — ${clip(String(frame.summary), 160)}` : "",
    " ",
    el(
      "button",
      {
        type: "button",
        class: "link",
        onclick: () => {
          markEscalationsSeen();
          void select(String(frame.conversation_id));
        },
      },
      "Open",
    ),
  );
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function markEscalationsSeen(): void {
  unseenEscalations = 0;
  badge.hidden = true;
  document.title = BASE_TITLE;
  if (!toast.classList.contains("error")) toast.hidden = true;
}

// -- the socket -----------------------------------------------------------------------

function connect(): void {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/agent/stream`;
  const ws = new WebSocket(url);
  socket = ws;
  socketReady = false;
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: session.accessToken }));
  ws.onmessage = (event) => {
    let frame: Json;
    try {
      frame = JSON.parse(String(event.data));
    } catch {
      return;
    }
    onFrame(frame);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socketReady = false;
    statusLine.textContent = "Reconnecting…";
    statusLine.dataset.state = "offline";
    for (const [ref, waiter] of pending) {
      window.clearTimeout(waiter.timer);
      waiter.reject(new Error("The connection was lost; try again."));
      pending.delete(ref);
    }
    if (!me) return;
    const delay = reconnectDelay;
    reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
    window.setTimeout(() => {
      if (!me) return;
      // 4401: the token lapsed or was revoked: refresh first (signs out if that fails).
      const ready = event.code === 4401 ? session.refresh() : Promise.resolve();
      ready.then(connect).catch(() => session.signOut());
    }, delay);
  };
}

function onFrame(frame: Json): void {
  switch (frame.type) {
    case "ready":
      socketReady = true;
      reconnectDelay = 500;
      statusLine.textContent = "Live";
      statusLine.dataset.state = "live";
      if (selected) void command({ type: "watch", conversation_id: selected }).catch(() => undefined);
      void command({ type: "set_presence", status: presence.value }).catch(() => undefined);
      scheduleList();
      if (selected) scheduleView();
      return;
    case "ack":
    case "error": {
      const waiter = frame.ref ? pending.get(String(frame.ref)) : undefined;
      if (waiter) {
        pending.delete(String(frame.ref));
        window.clearTimeout(waiter.timer);
        if (frame.type === "ack") waiter.resolve(frame);
        else waiter.reject(new ApiError(400, String(frame.error?.code ?? "error"), String(frame.error?.message ?? "refused")));
      } else if (frame.type === "error") {
        showError(String(frame.error?.message ?? "error"));
      }
      return;
    }
    case "presence":
      if (frame.agent?.id === me?.agent_id && typeof frame.status === "string" && frame.status !== "offline") {
        presence.value = frame.status;
      }
      return;
    case "escalation":
      notifyEscalation(frame);
      break;
    default:
      break;
  }
  scheduleList();
  if (frame.conversation_id && frame.conversation_id === selected) scheduleView();
}

function command(body: Json): Promise<Json> {
  return new Promise((resolve, reject) => {
    if (!socket || !socketReady) {
      reject(new Error("Not connected yet; try again in a moment."));
      return;
    }
    const ref = `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const timer = window.setTimeout(() => {
      pending.delete(ref);
      reject(new Error("No answer from the gateway; try again."));
    }, 15_000);
    pending.set(ref, { resolve, reject, timer });
    socket.send(JSON.stringify({ ...body, ref }));
  });
}

session.onToken((token) => {
  if (socket && socketReady) socket.send(JSON.stringify({ type: "auth", token }));
});

// -- the list -------------------------------------------------------------------------

function scheduleList(): void {
  window.clearTimeout(listTimer);
  listTimer = window.setTimeout(() => void loadList(), 150);
}

function scheduleView(): void {
  window.clearTimeout(viewTimer);
  viewTimer = window.setTimeout(() => void loadView(), 150);
}

async function loadList(): Promise<void> {
  try {
    const body = await session.call<{ conversations: Json[] }>("GET", `/v1/agent/conversations?filter=${filter}&limit=200`);
    renderList(body.conversations);
  } catch (error) {
    showError(error);
  }
}

function renderList(conversations: Json[]): void {
  if (conversations.length === 0) {
    clear(listEl, el("li", { class: "empty" }, "Nothing here."));
    return;
  }
  clear(
    listEl,
    ...conversations.map((c) => {
      const id = String(c.conversation_id);
      const agent = c.assigned_agent?.name ? `${c.assigned_agent.name}${c.assigned_agent.joined ? "" : " (assigned)"}` : "AI";
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "conversation",
            "data-testid": "conversation",
            "data-id": id,
            "data-status": String(c.status),
            "aria-current": id === selected ? "true" : null,
            onclick: () => void select(id),
          },
          el("span", { class: `status status-${String(c.status)}` }, String(c.status)),
          c.held_replies ? el("span", { class: "flag" }, `${c.held_replies} held`) : null,
          el("span", { class: "visitor" }, String(c.visitor?.name || c.visitor?.id || `Visitor ${id.slice(0, 8)}`)),
          el(
            "span",
            { class: "meta" },
            `${agent} · confidence ${formatConfidence(c.last_confidence)} · ${formatDuration(c.duration_seconds)}`,
            c.waiting_seconds !== null && c.waiting_seconds !== undefined ? ` · waiting ${formatDuration(c.waiting_seconds)}` : "",
            c.language ? ` · ${String(c.language)}` : "",
          ),
          c.escalation_reason ? el("span", { class: "reason" }, String(c.escalation_reason).replace(/_/g, " ")) : null,
        ),
      );
    }),
  );
}

// -- one conversation ------------------------------------------------------------------

async function select(id: string): Promise<void> {
  if (selected && selected !== id) void command({ type: "unwatch", conversation_id: selected }).catch(() => undefined);
  selected = id;
  for (const b of listEl.querySelectorAll<HTMLElement>("[data-testid=conversation]")) {
    if (b.dataset.id === id) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
  void command({ type: "watch", conversation_id: id }).catch(() => undefined);
  await loadView();
}

async function loadView(): Promise<void> {
  const id = selected;
  if (!id) return;
  try {
    const view = await session.call<Json>("GET", `/v1/agent/conversations/${encodeURIComponent(id)}`);
    if (selected === id) renderView(view);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      selected = null;
      clear(viewEl, el("p", { class: "empty" }, "This conversation no longer exists."));
      return;
    }
    showError(error);
  }
}

function act(label: string, body: () => Json, extra: Record<string, string> = {}): HTMLButtonElement {
  const button = el("button", { type: "button", ...extra }, label);
  button.addEventListener("click", () => {
    button.disabled = true;
    command(body())
      .then(() => scheduleView())
      .catch(showError)
      .finally(() => {
        button.disabled = false;
      });
  });
  return button;
}

function renderView(view: Json): void {
  const c = view.conversation as Json;
  const id = String(c.conversation_id);
  const holder = c.assigned_agent?.joined ? (c.assigned_agent as Json) : null;
  const iHold = holder?.id === me?.agent_id;
  const composerDraft = (viewEl.querySelector("#reply") as HTMLTextAreaElement | null)?.value ?? "";
  const noteDraft = (viewEl.querySelector("#note") as HTMLTextAreaElement | null)?.value ?? "";

  const handBack = el("input", { type: "checkbox", id: "hand-back", checked: true });
  const transferTo = el(
    "select",
    { id: "transfer-to", "aria-label": "Transfer to" },
    el("option", { value: "" }, "Back to the queue"),
    ...roster
      .filter((a) => a.agent_id !== me?.agent_id && a.active !== false)
      .map((a) => el("option", { value: String(a.agent_id) }, `${String(a.name)} (${String(a.presence?.status ?? "offline")})`)),
  );
  const controls = el(
    "div",
    { class: "controls", role: "toolbar", "aria-label": "Actions" },
    !iHold ? act("Join", () => ({ type: "join", conversation_id: id }), { "data-action": "join" }) : null,
    iHold
      ? el(
          "span",
          { class: "leave" },
          act("Leave", () => ({ type: "leave", conversation_id: id, hand_back: handBack.checked }), { "data-action": "leave" }),
          el("label", {}, handBack, " hand back to the AI"),
        )
      : null,
    act("Escalate", () => ({ type: "escalate", conversation_id: id }), { "data-action": "escalate" }),
    el(
      "span",
      { class: "transfer" },
      transferTo,
      act(
        "Transfer",
        () => (transferTo.value ? { type: "transfer", conversation_id: id, to_agent_id: transferTo.value } : { type: "transfer", conversation_id: id }),
        { "data-action": "transfer" },
      ),
    ),
    c.status !== "resolved" ? act("Resolve", () => ({ type: "resolve", conversation_id: id }), { "data-action": "resolve" }) : null,
  );

  const messages = el(
    "ol",
    { class: "messages", "data-testid": "messages" },
    ...(view.messages as Json[]).map((m) => renderMessage(id, m)),
  );

  const reply = el("textarea", { id: "reply", rows: 3, maxlength: 4000, placeholder: iHold ? "Reply to the visitor…" : "Join to reply", disabled: !iHold });
  reply.value = composerDraft;
  reply.addEventListener("input", () => {
    if (Date.now() - lastTyping > 3000 && reply.value.trim()) {
      lastTyping = Date.now();
      void command({ type: "typing", conversation_id: id }).catch(() => undefined);
    }
  });
  const send = el("button", { type: "submit", "data-action": "reply", disabled: !iHold }, "Send");
  const replyForm = el("form", { class: "composer", "aria-label": "Reply" }, el("label", { for: "reply" }, "Reply"), reply, send);
  replyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reply.value.trim();
    if (!text) return;
    send.disabled = true;
    command({ type: "reply", conversation_id: id, text, client_message_id: `console-${Date.now()}-${Math.random().toString(36).slice(2)}` })
      .then(() => {
        reply.value = "";
        scheduleView();
      })
      .catch(showError)
      .finally(() => {
        send.disabled = false;
      });
  });
  reply.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      replyForm.requestSubmit();
    }
  });

  const note = el("textarea", { id: "note", rows: 2, maxlength: 4000, placeholder: "Only your team sees notes" });
  note.value = noteDraft;
  const addNote = el("button", { type: "submit", "data-action": "note" }, "Add internal note");
  const noteForm = el("form", { class: "note-form", "aria-label": "Internal note" }, el("label", { for: "note" }, "Internal note"), note, addNote);
  noteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (!text) return;
    addNote.disabled = true;
    command({ type: "note", conversation_id: id, text })
      .then(() => {
        note.value = "";
        scheduleView();
      })
      .catch(showError)
      .finally(() => {
        addNote.disabled = false;
      });
  });

  const notes = el(
    "ul",
    { class: "notes", "data-testid": "notes" },
    ...(view.notes as Json[]).map((n) =>
      el(
        "li",
        { class: "note", "data-note-id": String(n.note_id) },
        el("span", { class: "internal-tag" }, "Internal"),
        el("span", { class: "author" }, String(n.agent?.name ?? "")),
        el("time", {}, formatTime(n.created_at)),
        el("p", { class: "text" }, String(n.text)),
      ),
    ),
  );

  clear(
    viewEl,
    el(
      "header",
      { class: "view-head" },
      el("h2", {}, String(c.visitor?.name || c.visitor?.id || `Visitor ${id.slice(0, 8)}`)),
      el(
        "p",
        { class: "meta", "data-testid": "view-status", "data-status": String(c.status) },
        `Status: ${String(c.status)}`,
        ` · ${holder ? `with ${String(holder.name)}` : c.ai_paused ? "AI paused" : "AI answering"}`,
        ` · ${formatDuration(c.duration_seconds)}`,
        c.language ? ` · ${String(c.language)}` : "",
        c.escalation_reason ? ` · escalated: ${String(c.escalation_reason).replace(/_/g, " ")}` : "",
      ),
      controls,
    ),
    messages,
    replyForm,
    el("section", { class: "internal", "aria-label": "Internal notes" }, el("h3", {}, "Internal notes — never shown to the visitor"), notes, noteForm),
  );
  messages.scrollTop = messages.scrollHeight;
}

function renderMessage(conversationId: string, m: Json): HTMLElement {
  const state = String(m.state ?? "posted");
  const item = el(
    "li",
    {
      class: `msg author-${String(m.author)} band-${bandOf(m.confidence)}`,
      "data-author": String(m.author),
      "data-seq": m.seq ?? null,
      "data-state": state,
      "data-message-id": String(m.message_id),
    },
    el("span", { class: "author" }, String(m.author_name ?? m.author)),
    el("time", {}, formatTime(m.created_at)),
    typeof m.confidence === "number" ? el("span", { class: "confidence", title: "AI confidence" }, formatConfidence(m.confidence)) : null,
    state !== "posted" ? el("span", { class: "state" }, state.replace(/_/g, " ")) : null,
    el("p", { class: "text" }, String(m.text ?? "")),
  );
  if (Array.isArray(m.sources) && m.sources.length) {
    item.append(
      el(
        "ul",
        { class: "sources" },
        ...m.sources.map((s: Json) => {
          const url = typeof s.url === "string" && /^https?:\/\//i.test(s.url) ? s.url : null;
          return el("li", {}, url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, String(s.title ?? url)) : String(s.title ?? ""));
        }),
      ),
    );
  }
  if (state === "held") item.append(heldControls(conversationId, m));
  return item;
}

function heldControls(conversationId: string, m: Json): HTMLElement {
  const text = el("textarea", { rows: 2, maxlength: 4000, "aria-label": "New text for the held reply", class: "held-text" });
  text.value = String(m.text ?? "");
  const decide = (decision: string) =>
    act(
      decision[0].toUpperCase() + decision.slice(1),
      () => {
        const body: Json = { type: decision, conversation_id: conversationId, held_message_id: String(m.message_id) };
        if (decision === "edit" || decision === "replace") body.text = text.value.trim();
        return body;
      },
      { "data-action": decision },
    );
  return el(
    "div",
    { class: "held", "data-testid": "held-reply" },
    el("p", {}, `Held for review until ${formatTime(m.hold_until)}; the visitor has not seen it.`),
    text,
    el("div", { class: "controls" }, decide("approve"), decide("edit"), decide("replace"), decide("discard")),
  );
}

// -- start ----------------------------------------------------------------------------

async function loadRoster(): Promise<void> {
  try {
    roster = (await session.call<{ agents: Json[] }>("GET", "/v1/agent/roster")).agents;
  } catch {
    roster = [];
  }
}

async function start(agent: AgentInfo): Promise<void> {
  me = agent;
  shell(agent);
  await loadRoster();
  await loadList();
  connect();
}

session.onSignedOut = () => {
  me = null;
  selected = null;
  const ws = socket;
  socket = null;
  ws?.close();
  document.title = BASE_TITLE;
  void loginForm(root, session, "Sign in to the Tandem console").then(start);
};

void session.restore().then((agent) => (agent ? start(agent) : loginForm(root, session, "Sign in to the Tandem console").then(start)));
