// Fills the demo page's embed snippet with this gateway's address and the demo site's key,
// so it can be copied as is. Text only (textContent): the key comes from the page.
"use strict";

(function () {
  const widgetTag = document.querySelector("script[data-site-key]");
  const snippet = document.getElementById("snippet");
  if (!widgetTag || !snippet) return;
  const key = widgetTag.getAttribute("data-site-key") || "pk_...";
  const src = new URL("/widget.js", window.location.href).href;
  snippet.textContent = '<script async src="' + src + '" data-site-key="' + key + '"></script>';
})();
