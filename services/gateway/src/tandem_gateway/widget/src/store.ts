// What survives a page reload, per site key in localStorage: the conversation, how far
// the visitor has read, and the messages still waiting to be sent. Falls back to memory
// where storage is unavailable (privacy modes, sandboxed frames).

export interface QueuedMessage {
  /** The client_message_id: chosen once, so a resend can never create a second message. */
  id: string;
  text: string;
  /** Epoch milliseconds when the visitor pressed send. */
  at: number;
}

export interface HandoffState {
  state: string;
  agent?: string;
}

export interface SavedState {
  conversationId?: string;
  token?: string;
  /** Highest seq such that every message up to it has been received. */
  lastSeq: number;
  /** Highest seq the visitor has seen with the panel open (drives the unread badge). */
  readSeq: number;
  queue: QueuedMessage[];
  open: boolean;
  handoff?: HandoffState;
  status?: string;
  rated?: boolean;
}

const VERSION = 1;

export const emptyState = (): SavedState => ({ lastSeq: 0, readSeq: 0, queue: [], open: false });

export class StateStore {
  readonly key: string;
  private memory: string | null = null;

  constructor(siteKey: string) {
    this.key = `tandem-widget:v${VERSION}:${siteKey}`;
  }

  load(): SavedState {
    return parseState(this.read());
  }

  save(state: SavedState): void {
    const raw = JSON.stringify(state);
    this.memory = raw;
    try {
      window.localStorage.setItem(this.key, raw);
    } catch {
      // Quota or disabled storage: the memory copy still serves this page.
    }
  }

  private read(): string | null {
    try {
      return window.localStorage.getItem(this.key) ?? this.memory;
    } catch {
      return this.memory;
    }
  }
}

const isString = (value: unknown): value is string => typeof value === "string" && value !== "";
const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 0;

/** Whatever is in storage, turned into a valid state: other scripts on the page can write there. */
export function parseState(raw: string | null): SavedState {
  const state = emptyState();
  if (!raw) return state;
  let data: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== "object") return state;
    data = parsed as Record<string, unknown>;
  } catch {
    return state;
  }
  if (isString(data.conversationId) && isString(data.token)) {
    state.conversationId = data.conversationId;
    state.token = data.token;
    if (isCount(data.lastSeq)) state.lastSeq = data.lastSeq;
    if (isCount(data.readSeq)) state.readSeq = data.readSeq;
    const handoff = data.handoff as Record<string, unknown> | undefined;
    if (handoff && isString(handoff.state)) {
      state.handoff = { state: handoff.state };
      if (isString(handoff.agent)) state.handoff.agent = handoff.agent;
    }
    if (isString(data.status)) state.status = data.status;
    state.rated = data.rated === true;
  }
  if (Array.isArray(data.queue)) {
    for (const item of data.queue as unknown[]) {
      const entry = item as Record<string, unknown> | null;
      if (entry && isString(entry.id) && isString(entry.text)) {
        state.queue.push({ id: entry.id, text: entry.text, at: isCount(entry.at) ? entry.at : 0 });
      }
    }
  }
  state.open = data.open === true;
  return state;
}
