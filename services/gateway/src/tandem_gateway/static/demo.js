// Tandem demo chat: the widget API from plain JavaScript. All text goes through
// textContent (never innerHTML), so nothing a visitor, agent or AI writes can run here.
"use strict";

(function () {
  const API = "/v1/widget";
  // Closing codes after which reconnecting cannot help (see the gateway's stream docs).
  const FINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4410, 4422]);
  const AUTHOR_LABELS = { visitor: "You", ai: "Assistant", agent: "Agent", system: "Tandem" };

  const params = new URLSearchParams(window.location.search);
  const siteKey =
    params.get("site_key") ||
    document.querySelector('meta[name="tandem-site-key"]').getAttribute("content") ||
    "";
  const storageKey = "tandem-demo:" + siteKey;

  const $ = (id) => document.getElementById(id);
  const els = {
    log: $("log"),
    status: $("status"),
    typing: $("typing"),
    startPanel: $("start-panel"),
    start: $("start"),
    composer: $("composer"),
    text: $("text"),
    send: $("send"),
    actions: $("actions"),
    handoff: $("handoff"),
    forget: $("forget"),
  };

  let conversation = loadConversation(); // {id, token} or null
  const shownSeqs = new Set();
  let contiguousSeq = 0; // every seq up to this one is on screen
  let socket = null;
  let reconnectDelay = 500;
  let reconnectTimer = null;
  let typingTimer = null;

  function loadConversation() {
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null");
      return saved && saved.id && saved.token ? saved : null;
    } catch (_) {
      return null;
    }
  }

  function saveConversation() {
    if (conversation) window.sessionStorage.setItem(storageKey, JSON.stringify(conversation));
    else window.sessionStorage.removeItem(storageKey);
  }

  function setStatus(text) {
    els.status.textContent = text;
  }

  function showChat(active) {
    els.startPanel.hidden = active;
    els.composer.hidden = !active;
    els.actions.hidden = !active;
  }

  function newClientMessageId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function safeHref(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function appendNotice(text) {
    const item = document.createElement("li");
    item.className = "notice";
    item.textContent = text;
    els.log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function renderMessage(frame) {
    if (typeof frame.seq !== "number" || shownSeqs.has(frame.seq)) return;
    shownSeqs.add(frame.seq);
    while (shownSeqs.has(contiguousSeq + 1)) contiguousSeq += 1;

    const item = document.createElement("li");
    item.className = "msg msg-" + (AUTHOR_LABELS[frame.author] ? frame.author : "system");
    item.dataset.seq = String(frame.seq);

    const author = document.createElement("div");
    author.className = "author";
    author.textContent = frame.author_name || AUTHOR_LABELS[frame.author] || String(frame.author);
    item.appendChild(author);

    const text = document.createElement("div");
    text.className = "text";
    text.textContent = String(frame.text);
    item.appendChild(text);

    if (typeof frame.confidence === "number") {
      const confidence = document.createElement("div");
      confidence.className = "confidence";
      confidence.textContent = "Confidence " + Math.round(frame.confidence * 100) + "%";
      item.appendChild(confidence);
    }
    if (Array.isArray(frame.sources) && frame.sources.length > 0) {
      const list = document.createElement("ul");
      list.className = "sources";
      for (const source of frame.sources) {
        const entry = document.createElement("li");
        const href = source && source.url ? safeHref(source.url) : null;
        const label = (source && (source.title || source.url)) || "source";
        if (href) {
          const link = document.createElement("a");
          link.href = href;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          link.textContent = label;
          entry.appendChild(link);
        } else {
          entry.textContent = label;
        }
        list.appendChild(entry);
      }
      item.appendChild(list);
    }

    // Keep seq order even when a frame arrives after a later one.
    const later = Array.from(els.log.querySelectorAll("li.msg")).find(
      (node) => Number(node.dataset.seq) > frame.seq
    );
    if (later) els.log.insertBefore(item, later);
    else els.log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "message":
        renderMessage(frame);
        break;
      case "status":
        setStatus("connected · conversation " + frame.status);
        break;
      case "typing":
        els.typing.hidden = false;
        window.clearTimeout(typingTimer);
        typingTimer = window.setTimeout(() => (els.typing.hidden = true), 4000);
        break;
      case "handoff":
        if (frame.state === "requested") appendNotice("A person has been asked to join.");
        else if (frame.state === "agent_joined")
          appendNotice((frame.agent && frame.agent.name ? frame.agent.name : "An agent") + " joined.");
        else if (frame.state === "agent_left")
          appendNotice((frame.agent && frame.agent.name ? frame.agent.name : "The agent") + " left.");
        break;
      default:
        break; // frame types this page does not know yet
    }
  }

  async function api(method, path, body, headers) {
    const init = { method: method, headers: Object.assign({}, headers || {}) };
    if (conversation && !init.headers["X-Site-Key"]) {
      init.headers["Authorization"] = "Bearer " + conversation.token;
    }
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await window.fetch(API + path, init);
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || response.statusText);
      error.status = response.status;
      error.code = data && data.error ? data.error.code : "http_" + response.status;
      throw error;
    }
    return data;
  }

  function endConversation(message) {
    if (socket) {
      socket.onclose = null;
      socket.close();
      socket = null;
    }
    window.clearTimeout(reconnectTimer);
    conversation = null;
    saveConversation();
    showChat(false);
    setStatus("not connected");
    if (message) appendNotice(message);
  }

  function connect() {
    if (!conversation) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url =
      scheme + "//" + window.location.host + API + "/conversations/" +
      encodeURIComponent(conversation.id) + "/stream?token=" +
      encodeURIComponent(conversation.token) + "&after_seq=" + contiguousSeq;
    setStatus("connecting…");
    socket = new WebSocket(url);
    socket.onopen = () => {
      reconnectDelay = 500;
      setStatus("connected");
    };
    socket.onmessage = (event) => {
      try {
        handleFrame(JSON.parse(event.data));
      } catch (error) {
        console.warn("ignored a frame", error);
      }
    };
    socket.onclose = (event) => {
      socket = null;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        endConversation(
          event.code === 4410 ? "This conversation was deleted." : "This conversation has ended."
        );
        return;
      }
      setStatus("reconnecting…");
      reconnectTimer = window.setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 15000);
    };
  }

  async function start() {
    els.start.disabled = true;
    try {
      const headers = { "X-Site-Key": siteKey };
      const started = await api("POST", "/conversations", { locale: navigator.language }, headers);
      conversation = { id: started.conversation_id, token: started.visitor_token };
      saveConversation();
      showChat(true);
      renderMessage(started.greeting);
      connect();
      els.text.focus();
    } catch (error) {
      appendNotice("Could not start a conversation: " + error.message);
    } finally {
      els.start.disabled = false;
    }
  }

  async function sendMessage(text) {
    const body = { text: text, client_message_id: newClientMessageId() };
    // Retrying with the same client_message_id is safe: the gateway accepts it once.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        return await api("POST", "/conversations/" + encodeURIComponent(conversation.id) + "/messages", body);
      } catch (error) {
        const retryable = error.status === undefined || error.status === 503 || error.status === 409;
        if (!retryable || attempt === 4) throw error;
        await new Promise((resolve) => window.setTimeout(resolve, 500 * 2 ** attempt));
      }
    }
    return null;
  }

  els.start.addEventListener("click", start);

  els.composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = els.text.value.trim();
    if (!text || !conversation) return;
    els.send.disabled = true;
    try {
      await sendMessage(text);
      els.text.value = "";
    } catch (error) {
      if (error.status === 410) endConversation("This conversation was deleted.");
      else appendNotice("Not sent: " + error.message);
    } finally {
      els.send.disabled = false;
      els.text.focus();
    }
  });

  els.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      els.composer.requestSubmit();
    }
  });

  els.handoff.addEventListener("click", async () => {
    try {
      await api("POST", "/conversations/" + encodeURIComponent(conversation.id) + "/handoff");
      appendNotice("You asked for a person.");
    } catch (error) {
      appendNotice("Could not ask for a person: " + error.message);
    }
  });

  for (const button of document.querySelectorAll("[data-score]")) {
    button.addEventListener("click", async () => {
      try {
        const score = Number(button.getAttribute("data-score"));
        await api("POST", "/conversations/" + encodeURIComponent(conversation.id) + "/rating", { score: score });
        appendNotice("Thanks for rating this conversation " + score + "/5.");
      } catch (error) {
        appendNotice("Could not rate: " + error.message);
      }
    });
  }

  els.forget.addEventListener("click", async () => {
    try {
      await api("DELETE", "/conversations/" + encodeURIComponent(conversation.id));
      els.log.replaceChildren();
      shownSeqs.clear();
      contiguousSeq = 0;
      endConversation("The conversation was forgotten.");
    } catch (error) {
      appendNotice("Could not forget the conversation: " + error.message);
    }
  });

  if (!siteKey) {
    els.start.disabled = true;
    appendNotice("No site key: open this page as /demo?site_key=<your site's public key>.");
  } else if (conversation) {
    showChat(true);
    connect(); // after_seq=0: the whole stored conversation, then live frames
  } else {
    showChat(false);
  }
})();
