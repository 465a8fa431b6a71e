// The widget's stylesheet, adopted by its shadow root: nothing leaks in or out of the host page.

export const CSS = `
:host{all:initial}
*,*::before,*::after{box-sizing:border-box}
.root{--tw-accent:#2f5bea;--tw-on-accent:#fff;--tw-ink:#1d2330;--tw-muted:#5b6478;--tw-line:#dde1ea;
position:fixed;bottom:20px;right:20px;z-index:2147483000;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;color:var(--tw-ink);
display:flex;flex-direction:column;align-items:flex-end;gap:12px}
.root[data-position="bottom-left"]{right:auto;left:20px;align-items:flex-start}
button,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--tw-accent);outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.launcher{position:relative;width:56px;height:56px;border-radius:50%;border:0;background:var(--tw-accent);color:var(--tw-on-accent);
box-shadow:0 4px 14px rgba(0,0,0,.25);display:grid;place-items:center}
.launcher:hover{filter:brightness(1.08)}
.launcher svg{width:26px;height:26px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#d93025;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.panel{width:min(380px,calc(100vw - 24px));height:min(600px,calc(100vh - 110px));background:#fff;border-radius:14px;
box-shadow:0 10px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}
.panel[hidden],[hidden]{display:none!important}
.head{background:var(--tw-accent);color:var(--tw-on-accent);padding:12px 12px 12px 16px;display:flex;align-items:center;gap:8px}
.head-text{flex:1;min-width:0}
.title{margin:0;font-size:16px;font-weight:650}
.conn{margin:0;font-size:12px;opacity:.9;min-height:1em}
.icon-btn{border:0;background:transparent;color:inherit;width:34px;height:34px;border-radius:8px;display:grid;place-items:center;font-size:22px;line-height:1}
.icon-btn:hover{background:rgba(255,255,255,.18)}
.banner{margin:0;padding:8px 16px;font-size:13px;background:#fff6dd;border-bottom:1px solid #f0dfa8}
.banner[data-state="agent_joined"]{background:#e3f6e8;border-color:#b9e4c4}
.log{list-style:none;margin:0;padding:14px;flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:10px;background:#f6f7fb;overscroll-behavior:contain}
.msg{max-width:86%;padding:8px 12px;border-radius:12px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08);align-self:flex-start;overflow-wrap:anywhere}
.msg[data-author="visitor"]{align-self:flex-end;background:var(--tw-accent);color:var(--tw-on-accent)}
.msg[data-author="agent"]{background:#e3f6e8}
.msg[data-author="system"]{background:#eef0f4}
.meta{display:flex;gap:8px;align-items:baseline;font-size:11px;opacity:.8;margin-bottom:2px}
.author{font-weight:650}
.text{white-space:pre-wrap;margin:0}
.confidence{margin:6px 0 0;font-size:12px;color:var(--tw-muted)}
.sources{margin:6px 0 0;font-size:12px}
.sources-title{margin:0;color:var(--tw-muted)}
.sources ul{margin:2px 0 0;padding-inline-start:18px}
.sources a{color:var(--tw-accent);text-decoration:underline}
.delivery{display:block;margin-top:3px;font-size:11px;opacity:.85}
.msg[data-state="failed"]{outline:2px solid #d93025}
.notice{align-self:center;max-width:92%;text-align:center;font-size:12px;color:var(--tw-muted);padding:2px 8px}
.typing{margin:0;padding:4px 16px;font-size:12px;color:var(--tw-muted);background:#f6f7fb;display:flex;align-items:center;gap:6px}
.dots{display:inline-flex;gap:3px}
.dots i{width:5px;height:5px;border-radius:50%;background:currentColor;animation:tw-blink 1.2s infinite}
.dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}
@keyframes tw-blink{0%,80%,100%{opacity:.25}40%{opacity:1}}
.rating{margin:0;padding:10px 14px;border-top:1px solid var(--tw-line);display:flex;flex-direction:column;gap:8px}
.rating fieldset{border:0;margin:0;padding:0}
.rating legend{padding:0;font-weight:600;margin-bottom:4px}
.stars{display:flex;gap:4px}
.star{border:1px solid var(--tw-line);background:#fff;border-radius:8px;width:40px;height:36px;font-size:18px;color:#b0b6c3}
.star.filled{color:#f4b400}
.star[aria-pressed="true"]{border-color:#f4b400;box-shadow:0 0 0 1px #f4b400}
.rating textarea{width:100%;min-height:40px;resize:vertical;border:1px solid var(--tw-line);border-radius:8px;padding:6px 8px}
.primary{align-self:flex-start;border:0;border-radius:8px;padding:7px 14px;background:var(--tw-accent);color:var(--tw-on-accent);font-weight:600}
.primary:disabled{opacity:.5;cursor:default}
.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--tw-line);align-items:flex-end}
.composer textarea{flex:1;resize:none;border:1px solid var(--tw-line);border-radius:10px;padding:8px 10px;max-height:120px;min-height:40px;background:#fff}
.foot{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:6px 12px 10px;font-size:12px}
.link-btn{border:0;background:transparent;padding:4px 2px;color:var(--tw-accent);text-decoration:underline}
.link-btn:disabled{opacity:.5;cursor:default;text-decoration:none}
.link-btn.danger{color:#b3261e}
.brand{color:var(--tw-muted);font-size:11px;margin:0 12px 8px;text-align:center}
@media (max-width:480px){.root{bottom:12px;right:12px}.root[data-position="bottom-left"]{left:12px}
.panel{width:calc(100vw - 24px);height:calc(100vh - 96px)}}
@media (prefers-reduced-motion:reduce){.dots i{animation:none}}
`;
