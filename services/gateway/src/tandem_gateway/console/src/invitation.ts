// The accept-invitation page (/invitation#token=...): the invitee picks a name and a
// password and joins the team. The token arrives in the URL fragment, which the browser
// never sends to a server; it is taken from there, wiped from the address bar and history
// at once, and posted in a request body (docs/console.md).

import { ApiError, Session, clear, el } from "./common";

const root = document.getElementById("app") as HTMLElement;
const token = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("token")?.trim() ?? "";
if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);

interface Joined {
  agent: { agent_id: string; site_id: string; email: string; name: string; role: "owner" | "admin" | "agent" };
}

async function accept(name: string, password: string): Promise<Joined> {
  let response: Response;
  try {
    response = await fetch("/v1/invitations/accept", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token, name, password }),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "offline", "The gateway cannot be reached. Check the connection.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? "error", error?.message ?? `request failed (${response.status})`);
  }
  return body as Joined;
}

function notice(title: string, text: string, testid: string): void {
  clear(
    root,
    el("section", { class: "login", "data-testid": testid, role: "alert" }, el("h1", {}, title), el("p", {}, text), el("a", { href: "/console" }, "Go to the sign-in page")),
  );
}

function joined(agent: Joined["agent"], signedIn: boolean): void {
  const target = agent.role === "agent" ? "/console" : "/dashboard";
  clear(
    root,
    el(
      "section",
      { class: "login", "data-testid": "joined", role: "status" },
      el("h1", {}, `Welcome, ${agent.name}`),
      el("p", {}, `You joined the team as ${agent.role}. Sign in with ${agent.email} and the password you chose.`),
      el("a", { href: target }, signedIn ? "Continue" : "Sign in"),
    ),
  );
  if (signedIn) window.location.assign(target);
}

function form(): void {
  const error = el("p", { class: "error", role: "alert", "data-testid": "accept-error" });
  const name = el("input", { type: "text", id: "invite-name", name: "name", autocomplete: "name", required: true, maxlength: 200 });
  const password = el("input", { type: "password", id: "invite-password", name: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const again = el("input", { type: "password", id: "invite-password-again", name: "password-again", autocomplete: "new-password", required: true, minlength: 10 });
  const button = el("button", { type: "submit", "data-testid": "accept-submit" }, "Join the team");
  const accepting = el(
    "form",
    { class: "login", "data-testid": "accept-form" },
    el("h1", {}, "Join your team on Tandem"),
    el("label", { for: "invite-name" }, "Your name"),
    name,
    el("label", { for: "invite-password" }, "Choose a password (10+ characters)"),
    password,
    el("label", { for: "invite-password-again" }, "The password again"),
    again,
    button,
    error,
  );
  accepting.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    if (password.value !== again.value) {
      error.textContent = "The two passwords differ.";
      return;
    }
    button.disabled = true;
    accept(name.value.trim(), password.value)
      .then(async ({ agent }) => {
        // Signed in straight away: the refresh token goes to this tab's sessionStorage,
        // where the console and the dashboard pick it up.
        const session = new Session();
        const signedIn = await session.login(agent.email, password.value).then(
          () => true,
          () => false,
        );
        joined(agent, signedIn);
      })
      .catch((e: unknown) => {
        button.disabled = false;
        if (e instanceof ApiError && (e.status === 404 || e.status === 410)) {
          notice("This invitation cannot be used", e.message, "invitation-unusable");
          return;
        }
        error.textContent = e instanceof ApiError ? e.message : "Joining failed.";
      });
  });
  clear(root, accepting);
  name.focus();
}

if (!token) notice("This invitation link is incomplete", "Open the whole link you were sent, or ask for a new invitation.", "invitation-unusable");
else form();
