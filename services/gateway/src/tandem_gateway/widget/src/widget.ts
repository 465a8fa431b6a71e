// The widget: one conversation per site key and browser, shown in a shadow root.
//
// Delivery rules, because they are what the visitor notices when they break:
// - every message frame carries a seq; a seq is shown once, in seq order, whatever mix
//   of stream replay, live frames and HTTP reads brought it;
// - a reconnect asks for everything after the highest seq received without gaps, so a
//   lost connection loses nothing;
// - a visitor message is queued (in localStorage) with a client_message_id chosen once,
//   then sent until the gateway accepts it; the API is idempotent on that id, so a
//   resend after a lost answer never creates a second message.

import {
  type Accepted,
  type Frame,
  type HandoffFrame,
  type MessageFrame,
  type SiteConfig,
  type VisitorIdentity,
  WidgetApi,
  isConversationLost,
  isRetryable,
} from "./api";
import { CHAT_ICON, CHEVRON_ICON, h, icon, inkOn, newClientMessageId, safeColor, safeUrl, setText } from "./dom";
import { type StringKey, type Strings, format, isRightToLeft, stringsFor } from "./i18n";
import { type QueuedMessage, type SavedState, StateStore, emptyState, parseState } from "./store";
import { CSS } from "./styles";

export interface WidgetOptions {
  /** The gateway's origin, e.g. https://chat.example.com */
  base: string;
  siteKey: string;
  locale: string;
  visitor: VisitorIdentity | null;
  openOnLoad: boolean;
}

export const MAX_TEXT = 4000;
const MAX_RECONNECT_DELAY_MS = 30000;
const STABLE_CONNECTION_MS = 5000;
const TYPING_TIMEOUT_MS = 8000;
const AI_TYPING_TIMEOUT_MS = 30000;

type Delivery = "queued" | "sending" | "sent" | "failed";

interface Elements {
  root: HTMLElement;
  launcher: HTMLButtonElement;
  badge: HTMLElement;
  panel: HTMLElement;
  conn: HTMLElement;
  banner: HTMLElement;
  log: HTMLElement;
  typing: HTMLElement;
  typingText: HTMLElement;
  rating: HTMLFormElement;
  stars: HTMLButtonElement[];
  comment: HTMLTextAreaElement;
  submitRating: HTMLButtonElement;
  composer: HTMLFormElement;
  input: HTMLTextAreaElement;
  handoff: HTMLButtonElement;
  forget: HTMLButtonElement;
}

export class TandemWidget {
  private readonly api: WidgetApi;
  private readonly store: StateStore;
  private state: SavedState;
  private strings: Strings;
  private config: SiteConfig = { greeting: "", show_confidence: false, widget: {} };
  private el!: Elements;

  /** Message elements by seq: what is on screen. */
  private readonly shown = new Map<number, HTMLElement>();
  /** Visitor messages on screen that have no seq yet, by client_message_id. */
  private readonly unconfirmed = new Map<string, HTMLElement>();
  /** Every seq up to this one is on screen (this page view); reconnects resume from it. */
  private contiguousSeq = 0;
  private historyUntil = 0;
  private unread = 0;

  private socket: WebSocket | null = null;
  private socketGeneration = 0;
  private reconnectAttempt = 0;
  private reconnectTimer: number | undefined;
  private flushing = false;
  private flushAttempt = 0;
  private flushTimer: number | undefined;
  private starting: Promise<"ok" | "retry" | "failed"> | null = null;
  private typingTimer: number | undefined;
  private connTimer: number | undefined;
  private forgetTimer: number | undefined;
  private chosenScore = 0;

  constructor(private readonly options: WidgetOptions) {
    this.api = new WidgetApi(options.base, options.siteKey);
    this.store = new StateStore(options.siteKey);
    this.state = this.store.load();
    this.strings = stringsFor(options.locale, null);
  }

  /** Loads the site's settings, then shows the launcher. False when the site key is refused. */
  async mount(host: HTMLElement): Promise<boolean> {
    const config = await this.api.config();
    if (config.ok && config.data) {
      this.config = config.data;
    } else if (config.status >= 400 && config.status < 500) {
      console.error(
        `Tandem widget: the gateway refused this site key (${config.status}${config.errorMessage ? `: ${config.errorMessage}` : ""}).`,
      );
      return false;
    }
    // A config that could not be fetched (offline) still leaves a working widget with
    // default looks: the queue sends what the visitor types once the network is back.
    this.strings = stringsFor(this.options.locale, this.config.locale_strings);
    const shadow = host.attachShadow({ mode: "open" });
    this.adoptStyles(shadow);
    this.el = this.build();
    shadow.append(this.el.root);
    this.applyLook();
    this.restore();
    this.listen(shadow);
    if (this.state.open || this.options.openOnLoad) this.open(false);
    return true;
  }

  // -- building ---------------------------------------------------------------------------

  private adoptStyles(shadow: ShadowRoot): void {
    // A constructed sheet passes strict Content-Security-Policies that forbid inline <style>.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch {
      shadow.append(h("style", {}, [CSS]));
    }
  }

  private build(): Elements {
    const t = this.strings;
    const badge = h("span", { class: "badge", "aria-hidden": "true", hidden: true });
    const launcher = h("button", {
      type: "button",
      class: "launcher",
      "aria-controls": "tandem-panel",
      "aria-expanded": "false",
      "aria-label": t.open,
      "data-testid": "tandem-launcher",
    }, [icon(CHAT_ICON), badge]) as HTMLButtonElement;

    const conn = h("p", { class: "conn", role: "status", "aria-live": "polite" });
    const close = h("button", {
      type: "button",
      class: "icon-btn",
      "aria-label": t.close,
      "data-action": "close",
    }, ["×"]);
    const header = h("div", { class: "head" }, [
      h("div", { class: "head-text" }, [h("h2", { class: "title", id: "tandem-title" }, [t.title]), conn]),
      close,
    ]);
    const banner = h("p", { class: "banner", role: "status", hidden: true, "data-testid": "tandem-handoff" });
    const log = h("ol", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": t.title,
      tabindex: "0",
    });
    const typingText = h("span");
    const typing = h("p", { class: "typing", hidden: true, "aria-hidden": "true" }, [
      h("span", { class: "dots" }, [h("i"), h("i"), h("i")]),
      typingText,
    ]);

    const stars: HTMLButtonElement[] = [];
    for (let score = 1; score <= 5; score++) {
      stars.push(h("button", {
        type: "button",
        class: "star",
        "aria-pressed": "false",
        "aria-label": format(t.rateScore, { n: score }),
        "data-score": String(score),
      }, ["★"]) as HTMLButtonElement);
    }
    const comment = h("textarea", { id: "tandem-comment", maxlength: "2000", rows: "2" }) as HTMLTextAreaElement;
    const submitRating = h("button", { type: "submit", class: "primary", disabled: true }, [t.submitRating]) as HTMLButtonElement;
    const rating = h("form", { class: "rating", hidden: true, "data-testid": "tandem-rating" }, [
      h("fieldset", {}, [h("legend", {}, [t.ratePrompt]), h("div", { class: "stars" }, stars)]),
      h("label", { for: "tandem-comment", class: "sr" }, [t.commentLabel]),
      comment,
      submitRating,
    ]) as HTMLFormElement;
    comment.placeholder = t.commentLabel;

    const input = h("textarea", {
      id: "tandem-input",
      rows: "1",
      maxlength: String(MAX_TEXT),
      placeholder: t.placeholder,
      autocomplete: "off",
    }) as HTMLTextAreaElement;
    const composer = h("form", { class: "composer" }, [
      h("label", { for: "tandem-input", class: "sr" }, [t.inputLabel]),
      input,
      h("button", { type: "submit", class: "primary" }, [t.send]),
    ]) as HTMLFormElement;

    const handoff = h("button", { type: "button", class: "link-btn", "data-action": "handoff" }, [t.talkToPerson]) as HTMLButtonElement;
    const forget = h("button", { type: "button", class: "link-btn danger", "data-action": "forget" }, [t.deleteConversation]) as HTMLButtonElement;
    const panel = h("section", {
      class: "panel",
      id: "tandem-panel",
      // Only the panel flips for right-to-left languages: the launcher keeps its corner.
      dir: isRightToLeft(this.options.locale) ? "rtl" : "ltr",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": "tandem-title",
      hidden: true,
    }, [
      header,
      banner,
      log,
      typing,
      rating,
      composer,
      h("div", { class: "foot" }, [handoff, forget]),
      h("p", { class: "brand" }, [t.poweredBy]),
    ]);
    const root = h("div", { class: "root", lang: this.options.locale }, [panel, launcher]);
    return { root, launcher, badge, panel, conn, banner, log, typing, typingText, rating, stars, comment, submitRating, composer, input, handoff, forget };
  }

  private applyLook(): void {
    const look = this.config.widget ?? {};
    const color = safeColor(look.color);
    if (color) {
      // CSSOM, not a style attribute: allowed under a strict style-src.
      this.el.root.style.setProperty("--tw-accent", color);
      this.el.root.style.setProperty("--tw-on-accent", inkOn(color));
    }
    this.el.root.dataset.position = look.position === "bottom-left" ? "bottom-left" : "bottom-right";
  }

  private listen(shadow: ShadowRoot): void {
    const el = this.el;
    el.launcher.addEventListener("click", () => (el.panel.hidden ? this.open(true) : this.close()));
    shadow.querySelector('[data-action="close"]')?.addEventListener("click", () => this.close());
    el.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !el.panel.hidden) {
        event.stopPropagation();
        this.close();
      }
    });
    el.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    el.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    el.input.addEventListener("input", () => this.fitInput());
    el.handoff.addEventListener("click", () => void this.requestHuman());
    el.forget.addEventListener("click", () => void this.forget());
    for (const star of el.stars) {
      star.addEventListener("click", () => this.chooseScore(Number(star.dataset.score)));
    }
    el.rating.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.rate();
    });
    window.addEventListener("online", () => {
      this.reconnectAttempt = 0;
      this.flushAttempt = 0;
      this.setConn(this.state.conversationId ? "reconnecting" : "online");
      this.connect();
      void this.flush();
    });
    window.addEventListener("offline", () => {
      this.disconnect();
      this.setConn("offline");
    });
    window.addEventListener("storage", (event) => {
      if (event.key === this.store.key) this.followOtherTab(event.newValue);
    });
  }

  // -- opening and closing ----------------------------------------------------------------

  open(focus = true): void {
    const el = this.el;
    el.panel.hidden = false;
    el.launcher.setAttribute("aria-expanded", "true");
    el.launcher.setAttribute("aria-label", this.strings.close);
    el.launcher.replaceChildren(icon(CHEVRON_ICON), el.badge);
    this.state.open = true;
    this.markRead();
    this.scrollToEnd();
    if (focus) el.input.focus();
  }

  close(): void {
    const el = this.el;
    const hadFocus = el.root.contains((el.root.getRootNode() as ShadowRoot).activeElement);
    el.panel.hidden = true;
    el.launcher.setAttribute("aria-expanded", "false");
    el.launcher.replaceChildren(icon(CHAT_ICON), el.badge);
    this.state.open = false;
    this.save();
    this.updateBadge();
    if (hadFocus) el.launcher.focus();
  }

  private markRead(): void {
    this.state.readSeq = Math.max(this.state.readSeq, this.highestShownSeq());
    this.unread = 0;
    this.save();
    this.updateBadge();
  }

  private updateBadge(): void {
    const { badge, launcher } = this.el;
    const count = this.el.panel.hidden ? this.unread : 0;
    badge.hidden = count === 0;
    setText(badge, count > 9 ? "9+" : String(count));
    const label = this.el.panel.hidden ? this.strings.open : this.strings.close;
    launcher.setAttribute("aria-label", count ? `${label} (${format(this.strings.unread, { n: count })})` : label);
  }

  // -- restoring a conversation -----------------------------------------------------------

  private restore(): void {
    this.historyUntil = this.state.lastSeq;
    if (this.historyUntil > 0) {
      this.el.log.setAttribute("aria-busy", "true");
      // Should the history not come back (offline), new messages must still be announced.
      window.setTimeout(() => this.historyRestored(), 5000);
    }
    if (!this.state.conversationId) this.showGreeting();
    if (this.state.handoff) this.showHandoff(this.state.handoff.state, this.state.handoff.agent, false);
    if (this.state.status === "resolved" && !this.state.rated) this.el.rating.hidden = false;
    for (const item of this.state.queue) this.showUnconfirmed(item, "queued");
    this.updateControls();
    if (!navigator.onLine) this.setConn("offline");
    this.connect();
    void this.flush();
  }

  private historyRestored(): void {
    this.historyUntil = 0;
    this.el.log.removeAttribute("aria-busy");
  }

  private showGreeting(): void {
    if (!this.config.greeting || this.el.log.querySelector("[data-greeting]")) return;
    const greeting = this.messageElement("system", "", this.config.greeting, null);
    greeting.setAttribute("data-greeting", "");
    this.el.log.prepend(greeting);
  }

  private followOtherTab(raw: string | null): void {
    const other = parseState(raw);
    if (other.conversationId === this.state.conversationId) return;
    // Another tab started (or forgot) the conversation: show that one here too.
    this.state = { ...other, queue: this.state.queue, open: this.state.open };
    this.clearConversationView();
    this.updateControls();
    this.connect();
  }

  // -- the live stream --------------------------------------------------------------------

  private connect(): void {
    const { conversationId, token } = this.state;
    if (!conversationId || !token || this.socket || !navigator.onLine) return;
    window.clearTimeout(this.reconnectTimer);
    const generation = ++this.socketGeneration;
    let openedAt = 0;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.api.streamUrl(conversationId, token, this.contiguousSeq));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (generation !== this.socketGeneration) return;
      openedAt = Date.now();
      if (this.el.conn.dataset.state) this.setConn("online");
      void this.flush();
    };
    socket.onmessage = (event) => {
      if (generation !== this.socketGeneration || typeof event.data !== "string") return;
      try {
        this.handleFrame(JSON.parse(event.data) as Frame);
      } catch {
        // A frame that is not JSON is not for us.
      }
    };
    socket.onclose = (event) => {
      if (generation !== this.socketGeneration) return;
      this.socket = null;
      if (event.code >= 4000 && event.code < 5000) {
        // The gateway's final verdicts (expired token, deleted conversation): reconnecting cannot help.
        this.conversationLost(event.code === 4410 ? "deleted" : null);
        return;
      }
      if (!navigator.onLine) {
        this.setConn("offline");
        return;
      }
      if (openedAt && Date.now() - openedAt > STABLE_CONNECTION_MS) this.reconnectAttempt = 0;
      if (openedAt) this.scheduleReconnect();
      else void this.probe();
    };
  }

  private disconnect(): void {
    this.socketGeneration++;
    window.clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      try {
        socket.close(1000);
      } catch {
        // already closing
      }
    }
  }

  /**
   * The socket closed before opening: browsers hide the HTTP answer of a refused
   * handshake, so ask the same question over HTTP. A lost conversation is dropped; any
   * other answer means retry later, and messages read meanwhile are shown already.
   */
  private async probe(): Promise<void> {
    const { conversationId, token } = this.state;
    if (!conversationId || !token) return;
    const result = await this.api.messagesAfter(conversationId, token, this.contiguousSeq);
    if (conversationId !== this.state.conversationId) return;
    if (result.ok && result.data) {
      for (const message of result.data.messages ?? []) this.handleFrame({ ...message, type: "message" });
    } else if (isConversationLost(result.status)) {
      this.conversationLost(result.status === 410 ? "deleted" : null);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    window.clearTimeout(this.reconnectTimer);
    if (!this.state.conversationId) return;
    this.setConn("reconnecting");
    const delay = backoff(this.reconnectAttempt++, 500);
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  private setConn(state: "offline" | "reconnecting" | "online"): void {
    const conn = this.el.conn;
    window.clearTimeout(this.connTimer);
    if (state === "online") {
      delete conn.dataset.state;
      setText(conn, this.strings.online);
      this.connTimer = window.setTimeout(() => setText(conn, ""), 3000);
      return;
    }
    if (conn.dataset.state === state) return;
    conn.dataset.state = state;
    setText(conn, state === "offline" ? this.strings.offline : this.strings.reconnecting);
    if (state === "offline") this.markQueued();
  }

  // -- frames -----------------------------------------------------------------------------

  private handleFrame(frame: Frame): void {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "message":
        this.showMessage(frame);
        break;
      case "status":
        this.onStatus(String(frame.status));
        break;
      case "typing":
        this.showTyping(frame.author === "agent" ? "agent" : "ai");
        break;
      case "handoff":
        this.onHandoff(frame);
        break;
    }
  }

  /** Shows a message once per seq; ``element`` is the visitor's own bubble waiting for it. */
  private showMessage(frame: MessageFrame, waiting?: HTMLElement): void {
    const seq = frame.seq;
    if (!Number.isInteger(seq) || seq < 1 || this.shown.has(seq)) return;
    const following = this.atEnd();
    let element = waiting;
    if (!element && frame.author === "visitor") element = this.adoptUnconfirmed(String(frame.text));
    if (element) {
      this.setDelivery(element, "sent");
    } else {
      element = this.messageElement(frame.author, frame.author_name ?? "", String(frame.text ?? ""), frame.created_at);
      this.addDetails(element, frame);
    }
    element.dataset.seq = String(seq);
    if (typeof frame.message_id === "string") element.dataset.messageId = frame.message_id;
    this.place(element, seq);
    this.el.log.querySelector("[data-greeting]")?.remove();

    while (this.shown.has(this.contiguousSeq + 1)) this.contiguousSeq++;
    if (this.contiguousSeq > this.state.lastSeq) this.state.lastSeq = this.contiguousSeq;
    if (this.historyUntil && this.contiguousSeq >= this.historyUntil) this.historyRestored();
    if (frame.author !== "visitor") {
      this.hideTyping();
      if (seq > this.state.readSeq) {
        if (this.el.panel.hidden) this.unread++;
        else this.state.readSeq = seq;
      }
    }
    this.save();
    this.updateBadge();
    this.updateControls();
    if (following || frame.author === "visitor") this.scrollToEnd();
  }

  /** Puts a message element in seq order, ahead of visitor messages still waiting for theirs. */
  private place(element: HTMLElement, seq: number): void {
    this.shown.set(seq, element);
    let before: Element | null = null;
    for (const candidate of Array.from(this.el.log.children)) {
      if (candidate === element) continue;
      const other = (candidate as HTMLElement).dataset.seq;
      const waiting = (candidate as HTMLElement).dataset.clientId && !other;
      if ((other && Number(other) > seq) || waiting) {
        before = candidate;
        break;
      }
    }
    if (before) this.el.log.insertBefore(element, before);
    else if (element.parentNode !== this.el.log) this.el.log.append(element);
  }

  private messageElement(author: string, authorName: string, text: string, createdAt: string | null): HTMLElement {
    const known = ["visitor", "ai", "agent", "system"].includes(author) ? author : "system";
    const labels: Record<string, StringKey> = { visitor: "you", ai: "assistant", agent: "agent", system: "support" };
    const name = known === "agent" && authorName ? authorName : this.strings[labels[known]];
    const time = createdAt ? new Date(createdAt) : new Date();
    const stamp = Number.isNaN(time.getTime()) ? new Date() : time;
    return h("li", { class: "msg", "data-author": known }, [
      h("div", { class: "meta" }, [
        h("span", { class: "author", dir: "auto" }, [name]),
        h("time", { datetime: stamp.toISOString() }, [this.formatTime(stamp)]),
      ]),
      // Each message runs in its own direction: Arabic in an English widget and vice versa.
      h("p", { class: "text", dir: "auto" }, [text]),
    ]);
  }

  private addDetails(element: HTMLElement, frame: MessageFrame): void {
    if (frame.author !== "ai") return;
    if (this.config.show_confidence && typeof frame.confidence === "number") {
      const percent = Math.round(Math.min(1, Math.max(0, frame.confidence)) * 100);
      element.append(h("p", { class: "confidence", "data-confidence": String(percent) }, [format(this.strings.confidence, { n: percent })]));
    }
    const links: HTMLElement[] = [];
    for (const source of Array.isArray(frame.sources) ? frame.sources : []) {
      const href = safeUrl(source?.url, this.options.base);
      const title = typeof source?.title === "string" && source.title ? source.title : href;
      if (!href || !title) continue;
      links.push(h("li", {}, [h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, [title])]));
    }
    if (links.length) {
      element.append(h("div", { class: "sources" }, [h("p", { class: "sources-title" }, [this.strings.sources]), h("ul", {}, links)]));
    }
  }

  private formatTime(moment: Date): string {
    try {
      const sameDay = moment.toDateString() === new Date().toDateString();
      const options: Intl.DateTimeFormatOptions = sameDay
        ? { hour: "numeric", minute: "2-digit" }
        : { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" };
      return new Intl.DateTimeFormat(this.options.locale, options).format(moment);
    } catch {
      return moment.toISOString().slice(11, 16);
    }
  }

  private onStatus(status: string): void {
    const previous = this.state.status;
    this.state.status = status;
    if (status === "resolved" && previous !== "resolved") {
      this.notice(this.strings.resolved);
      if (!this.state.rated) {
        this.el.rating.hidden = false;
        this.scrollToEnd();
      }
    } else if (status === "error") {
      this.notice(this.strings.error);
    } else if (status !== "resolved") {
      this.el.rating.hidden = true;
    }
    this.save();
  }

  private onHandoff(frame: HandoffFrame): void {
    const agent = typeof frame.agent?.name === "string" && frame.agent.name ? frame.agent.name : undefined;
    if (!["requested", "agent_joined", "agent_left"].includes(frame.state)) return;
    const current = this.state.handoff;
    // Repeated frames (redelivery, several gateway replicas) change nothing. A "requested"
    // after "agent_joined" is a transfer: the conversation waits for a person again.
    if (current?.state === frame.state && current.agent === agent) return;
    this.showHandoff(frame.state, agent, true);
  }

  private showHandoff(state: string, agent: string | undefined, announce: boolean): void {
    const t = this.strings;
    const name = agent ?? t.agent;
    this.state.handoff = agent ? { state, agent } : { state };
    const banner = this.el.banner;
    banner.dataset.state = state;
    if (state === "requested") {
      banner.hidden = false;
      setText(banner, t.handoffRequested);
    } else if (state === "agent_joined") {
      banner.hidden = false;
      setText(banner, format(t.agentJoined, { name }));
      if (announce) this.notice(format(t.agentJoined, { name }));
    } else {
      banner.hidden = true;
      if (announce) this.notice(format(t.agentLeft, { name }));
    }
    if (state !== "requested") this.hideTyping();
    this.save();
    this.updateControls();
  }

  private showTyping(who: "agent" | "ai", timeout = TYPING_TIMEOUT_MS): void {
    const agent = this.state.handoff?.agent;
    setText(this.el.typingText, who === "agent" ? format(this.strings.typingAgent, { name: agent ?? this.strings.agent }) : this.strings.typingAssistant);
    this.el.typing.hidden = false;
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.hideTyping(), timeout);
  }

  private hideTyping(): void {
    window.clearTimeout(this.typingTimer);
    this.el.typing.hidden = true;
  }

  private notice(text: string): void {
    const following = this.atEnd();
    this.el.log.append(h("li", { class: "notice" }, [text]));
    if (following) this.scrollToEnd();
  }

  // -- sending ----------------------------------------------------------------------------

  private submit(): void {
    const text = this.el.input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      this.notice(this.strings.tooLong);
      return;
    }
    const item: QueuedMessage = { id: newClientMessageId(), text, at: Date.now() };
    this.state.queue.push(item);
    this.save();
    this.showUnconfirmed(item, navigator.onLine ? "sending" : "queued");
    this.el.input.value = "";
    this.fitInput();
    this.scrollToEnd();
    void this.flush();
  }

  private showUnconfirmed(item: QueuedMessage, delivery: Delivery): void {
    const element = this.messageElement("visitor", "", item.text, new Date(item.at || Date.now()).toISOString());
    element.dataset.clientId = item.id;
    this.unconfirmed.set(item.id, element);
    this.setDelivery(element, delivery);
    this.el.log.append(element);
  }

  private setDelivery(element: HTMLElement, delivery: Delivery, detail?: string): void {
    element.dataset.state = delivery;
    let label = element.querySelector(".delivery");
    if (delivery === "sent") {
      label?.remove();
      return;
    }
    if (!label) {
      label = h("span", { class: "delivery" });
      element.append(label);
    }
    const text = { queued: this.strings.queued, sending: this.strings.sending, failed: this.strings.failed }[delivery];
    setText(label, detail ? `${text}: ${detail}` : text);
  }

  private markQueued(): void {
    for (const element of this.unconfirmed.values()) {
      if (element.dataset.state === "sending") this.setDelivery(element, "queued");
    }
  }

  /** The visitor's own message came back on the stream before its acknowledgement did. */
  private adoptUnconfirmed(text: string): HTMLElement | undefined {
    for (const [id, element] of this.unconfirmed) {
      const body = element.querySelector(".text")?.textContent;
      if (!element.dataset.seq && body === text) {
        this.unconfirmed.delete(id);
        return element;
      }
    }
    return undefined;
  }

  private acknowledge(item: QueuedMessage, accepted: Accepted): void {
    const element = this.unconfirmed.get(item.id);
    this.unconfirmed.delete(item.id);
    const answered = this.highestShownSeq() > accepted.seq;
    const aiAnswers = !this.state.handoff || this.state.handoff.state === "agent_left";
    if (aiAnswers && !answered) this.showTyping("ai", AI_TYPING_TIMEOUT_MS);
    if (!element) return; // the stream delivered it already
    if (this.shown.has(accepted.seq)) {
      element.remove();
      return;
    }
    const frame: MessageFrame = {
      type: "message",
      seq: accepted.seq,
      message_id: accepted.message_id,
      author: "visitor",
      text: item.text,
      created_at: new Date(item.at || Date.now()).toISOString(),
    };
    this.showMessage(frame, element);
  }

  /** Sends the queue in order until it is empty, the network is gone, or the gateway refuses. */
  private async flush(): Promise<void> {
    if (this.flushing || !this.state.queue.length) return;
    if (!navigator.onLine) {
      this.markQueued();
      return;
    }
    this.flushing = true;
    window.clearTimeout(this.flushTimer);
    let restarts = 0;
    try {
      while (this.state.queue.length) {
        if (!this.state.conversationId) {
          const started = await this.ensureConversation();
          if (started === "retry") return this.scheduleFlush();
          if (started === "failed") {
            for (const item of this.state.queue.splice(0)) this.failed(item.id);
            this.save();
            return;
          }
        }
        const item = this.state.queue[0];
        const element = this.unconfirmed.get(item.id);
        if (element) this.setDelivery(element, "sending");
        const { conversationId, token } = this.state;
        const result = await this.api.send(conversationId!, token!, item.text, item.id);
        if (result.ok && result.data) {
          this.state.queue = this.state.queue.filter((queued) => queued.id !== item.id);
          this.flushAttempt = 0;
          this.save();
          this.acknowledge(item, result.data);
        } else if (isRetryable(result.status)) {
          this.markQueued();
          return this.scheduleFlush();
        } else if (isConversationLost(result.status) && restarts++ < 2) {
          // Expired or deleted elsewhere: the message goes to a new conversation instead.
          this.conversationLost(result.status === 410 ? "deleted" : null);
        } else {
          this.state.queue = this.state.queue.filter((queued) => queued.id !== item.id);
          this.save();
          this.failed(item.id, result.errorMessage);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private failed(clientId: string, detail?: string): void {
    const element = this.unconfirmed.get(clientId);
    this.unconfirmed.delete(clientId);
    if (element) this.setDelivery(element, "failed", detail);
  }

  private scheduleFlush(): void {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = window.setTimeout(() => void this.flush(), backoff(this.flushAttempt++, 1000));
  }

  private ensureConversation(): Promise<"ok" | "retry" | "failed"> {
    if (this.state.conversationId) return Promise.resolve("ok");
    this.starting ??= this.startConversation().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async startConversation(): Promise<"ok" | "retry" | "failed"> {
    const result = await this.api.start(this.options.visitor, this.options.locale);
    if (result.ok && result.data) {
      this.state = {
        ...emptyState(),
        queue: this.state.queue,
        open: this.state.open,
        conversationId: result.data.conversation_id,
        token: result.data.visitor_token,
      };
      this.save();
      if (result.data.greeting?.text) this.showMessage({ ...result.data.greeting, type: "message" });
      this.updateControls();
      this.connect();
      return "ok";
    }
    if (isRetryable(result.status)) return "retry";
    console.error(`Tandem widget: could not start a conversation (${result.status}${result.errorMessage ? `: ${result.errorMessage}` : ""}).`);
    this.notice(this.strings.error);
    return "failed";
  }

  /** The conversation cannot be continued (expired token, deleted): start afresh. */
  private conversationLost(reason: "deleted" | null): void {
    this.disconnect();
    this.state = { ...emptyState(), queue: this.state.queue, open: this.state.open };
    this.save();
    this.clearConversationView();
    if (reason === "deleted") this.notice(this.strings.deleted);
    this.updateControls();
    void this.flush();
  }

  private clearConversationView(): void {
    this.disconnect();
    this.shown.clear();
    this.contiguousSeq = 0;
    this.historyUntil = 0;
    this.unread = 0;
    this.el.log.replaceChildren();
    this.el.log.removeAttribute("aria-busy");
    this.el.banner.hidden = true;
    this.el.rating.hidden = true;
    this.hideTyping();
    if (!this.state.conversationId) this.showGreeting();
    if (this.state.handoff) this.showHandoff(this.state.handoff.state, this.state.handoff.agent, false);
    const waiting = Array.from(this.unconfirmed.entries());
    this.unconfirmed.clear();
    for (const item of this.state.queue) {
      const previous = waiting.find(([id]) => id === item.id);
      this.showUnconfirmed(item, (previous?.[1].dataset.state as Delivery) ?? "queued");
    }
    this.updateBadge();
  }

  // -- the other buttons ------------------------------------------------------------------

  private async requestHuman(): Promise<void> {
    const button = this.el.handoff;
    button.disabled = true;
    const started = await this.ensureConversation();
    const { conversationId, token } = this.state;
    const result = started === "ok" && conversationId && token ? await this.api.requestHuman(conversationId, token) : null;
    if (result?.ok) {
      if (this.state.handoff?.state !== "agent_joined") this.showHandoff("requested", undefined, true);
      this.hideTyping();
    } else {
      this.notice(started === "retry" || result?.status === 0 ? this.strings.offline : this.strings.error);
    }
    this.updateControls();
    // A disabled button drops the keyboard focus; hand it to the message box instead.
    if (button.disabled) this.el.input.focus();
  }

  private chooseScore(score: number): void {
    this.chosenScore = score;
    for (const star of this.el.stars) {
      const value = Number(star.dataset.score);
      star.setAttribute("aria-pressed", String(value === score));
      star.classList.toggle("filled", value <= score);
    }
    this.el.submitRating.disabled = false;
  }

  private async rate(): Promise<void> {
    const { conversationId, token } = this.state;
    if (!conversationId || !token || !this.chosenScore) return;
    this.el.submitRating.disabled = true;
    const result = await this.api.rate(conversationId, token, this.chosenScore, this.el.comment.value.trim());
    if (result.ok) {
      this.state.rated = true;
      this.save();
      this.el.rating.hidden = true;
      this.notice(this.strings.thanks);
    } else {
      this.el.submitRating.disabled = false;
      this.notice(result.status === 0 ? this.strings.offline : this.strings.error);
    }
  }

  private async forget(): Promise<void> {
    const button = this.el.forget;
    if (button.dataset.confirm !== "true") {
      // Deleting cannot be undone: the first press only asks for a second one.
      button.dataset.confirm = "true";
      setText(button, this.strings.deleteConfirm);
      this.forgetTimer = window.setTimeout(() => this.resetForgetButton(), 5000);
      return;
    }
    this.resetForgetButton();
    const { conversationId, token } = this.state;
    if (!conversationId || !token) return;
    const result = await this.api.forget(conversationId, token);
    if (result.ok || isConversationLost(result.status)) {
      for (const item of this.state.queue.splice(0)) this.unconfirmed.get(item.id)?.remove();
      this.unconfirmed.clear();
      this.conversationLost("deleted");
      this.el.input.focus();
    } else {
      this.notice(result.status === 0 ? this.strings.offline : this.strings.error);
    }
  }

  private resetForgetButton(): void {
    window.clearTimeout(this.forgetTimer);
    delete this.el.forget.dataset.confirm;
    setText(this.el.forget, this.strings.deleteConversation);
  }

  private updateControls(): void {
    const handoff = this.state.handoff?.state;
    this.el.handoff.disabled = handoff === "requested" || handoff === "agent_joined";
    this.el.forget.hidden = !this.state.conversationId;
  }

  // -- helpers ----------------------------------------------------------------------------

  private highestShownSeq(): number {
    let highest = 0;
    for (const seq of this.shown.keys()) highest = Math.max(highest, seq);
    return highest;
  }

  /** Whether the visitor is reading the latest messages (then new ones scroll into view). */
  private atEnd(): boolean {
    const log = this.el.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  }

  private scrollToEnd(): void {
    this.el.log.scrollTop = this.el.log.scrollHeight;
  }

  private fitInput(): void {
    const input = this.el.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  private save(): void {
    this.store.save(this.state);
  }
}

/** Exponential backoff with jitter: base, 2×base, 4×base … capped, ±25 %. */
export function backoff(attempt: number, baseMs: number): number {
  const delay = Math.min(MAX_RECONNECT_DELAY_MS, baseMs * 2 ** Math.min(attempt, 10));
  return Math.round(delay * (0.75 + Math.random() * 0.5));
}
