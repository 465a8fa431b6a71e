// The widget API (API.md) over fetch. Every call resolves to an ApiResult rather than
// throwing, so callers decide per status whether to retry, start over or give up.

export interface Source {
  title?: string | null;
  url?: string | null;
}

export interface MessageFrame {
  type: "message";
  seq: number;
  message_id: string;
  author: string;
  author_name?: string | null;
  text: string;
  created_at: string;
  confidence?: number | null;
  sources?: Source[] | null;
  language?: string | null;
}

export interface StatusFrame {
  type: "status";
  status: string;
}

export interface TypingFrame {
  type: "typing";
  author: string;
}

export interface HandoffFrame {
  type: "handoff";
  state: string;
  agent?: { name?: string | null } | null;
}

export type Frame = MessageFrame | StatusFrame | TypingFrame | HandoffFrame;

export interface SiteConfig {
  greeting: string;
  show_confidence: boolean;
  widget: { color?: string; position?: string };
  locale_strings?: Record<string, Record<string, string>> | null;
}

export interface VisitorIdentity {
  id?: string;
  name?: string;
  email?: string;
  hmac?: string;
}

export interface Started {
  conversation_id: string;
  visitor_token: string;
  greeting?: MessageFrame;
}

export interface Accepted {
  message_id: string;
  seq: number;
}

/** ``status`` 0 means the request never got an answer (offline, DNS, CORS, timeout). */
export interface ApiResult<T> {
  ok: boolean;
  status: number;
  data?: T;
  errorCode?: string;
  errorMessage?: string;
}

const TIMEOUT_MS = 15000;

/** Worth trying again later: no answer at all, a conflict in flight, throttling or an outage. */
export const isRetryable = (status: number): boolean =>
  status === 0 || status === 408 || status === 409 || status === 429 || status >= 500;

/** The conversation cannot be used any more with this token: expired, wrong or deleted. */
export const isConversationLost = (status: number): boolean =>
  status === 401 || status === 403 || status === 410;

export class WidgetApi {
  constructor(
    private readonly base: string,
    private readonly siteKey: string,
  ) {}

  config(): Promise<ApiResult<SiteConfig>> {
    return this.call("GET", "/v1/widget/config", { "X-Site-Key": this.siteKey });
  }

  start(visitor: VisitorIdentity | null, locale: string): Promise<ApiResult<Started>> {
    const body: Record<string, unknown> = { locale };
    if (visitor) body.visitor = visitor;
    return this.call("POST", "/v1/widget/conversations", { "X-Site-Key": this.siteKey }, body);
  }

  send(
    conversationId: string,
    token: string,
    text: string,
    clientMessageId: string,
  ): Promise<ApiResult<Accepted>> {
    return this.call("POST", this.path(conversationId, "/messages"), bearer(token), {
      text,
      client_message_id: clientMessageId,
    });
  }

  messagesAfter(
    conversationId: string,
    token: string,
    afterSeq: number,
  ): Promise<ApiResult<{ messages: MessageFrame[] }>> {
    return this.call(
      "GET",
      this.path(conversationId, `/messages?after_seq=${afterSeq}`),
      bearer(token),
    );
  }

  requestHuman(conversationId: string, token: string): Promise<ApiResult<unknown>> {
    return this.call("POST", this.path(conversationId, "/handoff"), bearer(token), {});
  }

  rate(
    conversationId: string,
    token: string,
    score: number,
    comment: string,
  ): Promise<ApiResult<unknown>> {
    const body: Record<string, unknown> = { score };
    if (comment) body.comment = comment;
    return this.call("POST", this.path(conversationId, "/rating"), bearer(token), body);
  }

  forget(conversationId: string, token: string): Promise<ApiResult<unknown>> {
    return this.call("DELETE", this.path(conversationId, ""), bearer(token));
  }

  streamUrl(conversationId: string, token: string, afterSeq: number): string {
    const url = new URL(this.path(conversationId, "/stream"), this.base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", token);
    url.searchParams.set("after_seq", String(afterSeq));
    return url.href;
  }

  private path(conversationId: string, rest: string): string {
    return `/v1/widget/conversations/${encodeURIComponent(conversationId)}${rest}`;
  }

  private async call<T>(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<ApiResult<T>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(new URL(path, this.base).href, {
        method,
        headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
      let payload: unknown;
      if (response.status !== 204) {
        try {
          payload = await response.json();
        } catch {
          payload = undefined;
        }
      }
      if (response.ok) return { ok: true, status: response.status, data: payload as T };
      const error = (payload as { error?: { code?: unknown; message?: unknown } } | undefined)
        ?.error;
      return {
        ok: false,
        status: response.status,
        errorCode: typeof error?.code === "string" ? error.code : undefined,
        errorMessage: typeof error?.message === "string" ? error.message : undefined,
      };
    } catch {
      return { ok: false, status: 0 };
    } finally {
      clearTimeout(timer);
    }
  }
}

const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });
