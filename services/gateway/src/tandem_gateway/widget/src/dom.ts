// Tiny DOM helpers. Text only ever goes in through textContent and attributes through
// setAttribute on a fixed list of safe names, so nothing a visitor, agent, AI or site
// writes can become markup or script.

type Child = Node | string | null | undefined | false;

export function h(
  tag: string,
  attributes: Record<string, string | boolean | undefined> = {},
  children: Child[] = [],
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

export function setText(element: Element, text: string): void {
  element.textContent = text;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function icon(path: string): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const shape = document.createElementNS(SVG_NS, "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}

export const CHAT_ICON =
  "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h10V9H7zm0 4v2h7v-2H7z";
export const CHEVRON_ICON = "M5.6 8.6 12 15l6.4-6.4L20 10l-8 8-8-8z";

/** An http(s) URL in canonical form, or null: no javascript:, data: or other schemes. */
export function safeUrl(raw: unknown, base: string): string | null {
  if (typeof raw !== "string" || raw.length > 2048) return null;
  try {
    const url = new URL(raw, base);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** ``#rgb`` or ``#rrggbb``, else null. */
export function safeColor(raw: unknown): string | null {
  return typeof raw === "string" && /^#(?:[0-9a-f]{3}){1,2}$/i.test(raw) ? raw : null;
}

/** Dark ink on light accents, white on dark ones (WCAG relative luminance). */
export function inkOn(color: string): string {
  let hex = color.slice(1);
  if (hex.length === 3) hex = hex.replace(/./g, (c) => c + c);
  const channel = (offset: number): number => {
    const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
  // Above ~0.21 dark ink has the higher contrast ratio, below it white does.
  return luminance > 0.21 ? "#1d2330" : "#ffffff";
}

export function newClientMessageId(): string {
  const cryptoApi = window.crypto;
  if (cryptoApi && typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  cryptoApi.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
