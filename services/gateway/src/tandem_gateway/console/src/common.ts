// What the console and the dashboard share: inert DOM building, the signed-in session
// (access token in memory, refresh token in sessionStorage, refreshed before expiry) and
// JSON calls with the gateway's error shape.

export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
export type Child = Node | string | number | null | undefined | false;

/** Builds an element; every text goes through text nodes, so nothing is ever parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") node.addEventListener(key.replace(/^on/, ""), value);
    else if (key === "text") node.textContent = String(value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node: Element, ...children: Child[]): void {
  node.replaceChildren();
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentInfo {
  agent_id: string;
  site_id: string;
  name: string;
  role: "owner" | "admin" | "agent";
  skills: string[];
  languages: string[];
}

interface SessionBody {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  agent: AgentInfo;
}

const REFRESH_KEY = "tandem-console:refresh";

/** A signed-in agent. The access token never touches storage; a reload refreshes. */
export class Session {
  accessToken = "";
  agent: AgentInfo | null = null;
  expiresAt = 0;
  private timer: number | undefined;
  private listeners: Array<(token: string) => void> = [];
  onSignedOut: () => void = () => undefined;

  onToken(listener: (token: string) => void): void {
    this.listeners.push(listener);
  }

  async login(email: string, password: string): Promise<AgentInfo> {
    const body = (await rawCall("POST", "/v1/agent/login", { email, password })) as SessionBody;
    this.adopt(body);
    return body.agent;
  }

  /** Signs in again from the refresh token kept for this tab, if any. */
  async restore(): Promise<AgentInfo | null> {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) return null;
    try {
      await this.refresh();
      return this.agent;
    } catch {
      sessionStorage.removeItem(REFRESH_KEY);
      return null;
    }
  }

  async refresh(): Promise<void> {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) throw new ApiError(401, "signed_out", "signed out");
    const body = (await rawCall("POST", "/v1/agent/refresh", { refresh_token: refresh })) as SessionBody;
    this.adopt(body);
  }

  private adopt(body: SessionBody): void {
    this.accessToken = body.access_token;
    this.agent = body.agent;
    this.expiresAt = Date.now() + body.expires_in * 1000;
    sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
    window.clearTimeout(this.timer);
    // Refresh a minute before expiry (at least 10 s from now).
    const inMs = Math.max(10_000, body.expires_in * 1000 - 60_000);
    this.timer = window.setTimeout(() => {
      this.refresh().catch(() => this.signOut());
    }, inMs);
    for (const listener of this.listeners) listener(this.accessToken);
  }

  async logout(): Promise<void> {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    try {
      await rawCall("POST", "/v1/agent/logout", refresh ? { refresh_token: refresh } : {}, this.accessToken);
    } catch {
      // Signing out locally is what matters to the person at the keyboard.
    }
    this.signOut();
  }

  signOut(): void {
    window.clearTimeout(this.timer);
    sessionStorage.removeItem(REFRESH_KEY);
    this.accessToken = "";
    this.agent = null;
    this.onSignedOut();
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return (await rawCall(method, path, body, this.accessToken)) as T;
    } catch (error) {
      // An access token may have lapsed (a sleeping laptop): refresh once and retry.
      if (error instanceof ApiError && error.status === 401 && sessionStorage.getItem(REFRESH_KEY)) {
        await this.refresh();
        return (await rawCall(method, path, body, this.accessToken)) as T;
      }
      throw error;
    }
  }
}

async function rawCall(method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "offline", "The gateway cannot be reached. Check the connection.");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? "error", error?.message ?? `request failed (${response.status})`);
  }
  return parsed;
}

/** The sign-in form; resolves once signed in. */
export function loginForm(root: Element, session: Session, title: string): Promise<AgentInfo> {
  return new Promise((resolve) => {
    const error = el("p", { class: "error", role: "alert", "data-testid": "login-error" });
    const email = el("input", { type: "email", id: "login-email", name: "email", autocomplete: "username", required: true });
    const password = el("input", {
      type: "password",
      id: "login-password",
      name: "password",
      autocomplete: "current-password",
      required: true,
    });
    const button = el("button", { type: "submit", "data-testid": "login-submit" }, "Sign in");
    const form = el(
      "form",
      { class: "login", "data-testid": "login-form" },
      el("h1", {}, title),
      el("label", { for: "login-email" }, "Email"),
      email,
      el("label", { for: "login-password" }, "Password"),
      password,
      button,
      error,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      button.disabled = true;
      error.textContent = "";
      session
        .login(email.value.trim(), password.value)
        .then((agent) => resolve(agent))
        .catch((e: unknown) => {
          error.textContent = e instanceof ApiError ? e.message : "Sign-in failed.";
          button.disabled = false;
        });
    });
    clear(root, form);
    email.focus();
  });
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function formatConfidence(value: unknown): string {
  return typeof value === "number" ? `${Math.round(value * 100)}%` : "–";
}

export function formatTime(value: unknown): string {
  if (typeof value !== "string") return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

export function bandOf(value: unknown): string {
  if (typeof value !== "number") return "none";
  return value < 0.5 ? "low" : value < 0.8 ? "medium" : "high";
}
