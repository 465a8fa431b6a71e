// Entry point of widget.js. The host page adds one tag:
//   <script async src="https://GATEWAY/widget.js" data-site-key="pk_..."></script>
// and this finds that tag, reads its data-* attributes and mounts the widget in a shadow
// root at the end of <body>. Nothing else on the page is touched.

import type { VisitorIdentity } from "./api";
import { pickLocale } from "./i18n";
import { TandemWidget } from "./widget";

declare global {
  interface Window {
    TandemWidget?: { open(): void; close(): void };
    __tandemWidgetLoaded?: boolean;
  }
}

function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.siteKey) return current;
  // currentScript is null when the script runs as a module or from a bundler's wrapper.
  return document.querySelector<HTMLScriptElement>("script[data-site-key][src*='widget']");
}

function visitorFrom(script: HTMLScriptElement): VisitorIdentity | null {
  const visitor: VisitorIdentity = {};
  const { visitorId, visitorName, visitorEmail, visitorHmac } = script.dataset;
  if (visitorId) visitor.id = visitorId;
  if (visitorName) visitor.name = visitorName;
  if (visitorEmail) visitor.email = visitorEmail;
  if (visitorHmac) visitor.hmac = visitorHmac;
  return Object.keys(visitor).length ? visitor : null;
}

async function boot(script: HTMLScriptElement): Promise<void> {
  const siteKey = (script.dataset.siteKey ?? "").trim();
  if (!siteKey) {
    console.error("Tandem widget: the script tag needs a data-site-key attribute.");
    return;
  }
  const base = new URL(script.dataset.gateway || script.src, window.location.href).origin;
  const locale = pickLocale(script.dataset.locale ?? null, navigator.languages?.length ? navigator.languages : [navigator.language]);
  const widget = new TandemWidget({
    base,
    siteKey,
    locale,
    visitor: visitorFrom(script),
    openOnLoad: script.dataset.open === "true",
  });
  const host = document.createElement("div");
  host.id = "tandem-widget";
  document.body.append(host);
  if (await widget.mount(host)) {
    window.TandemWidget = { open: () => widget.open(true), close: () => widget.close() };
  } else {
    host.remove();
  }
}

(() => {
  if (window.__tandemWidgetLoaded) return; // the snippet was pasted twice
  window.__tandemWidgetLoaded = true;
  const script = findScript();
  if (!script) {
    console.error("Tandem widget: no <script data-site-key> tag found.");
    return;
  }
  const start = () => void boot(script);
  // An async script may run before <body> exists.
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
