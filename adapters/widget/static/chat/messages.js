  // ---- files to send: the tray -------------------------------------------------------

  /** Add chosen files, refusing at once what the bridge would refuse for its size. */
  function addFiles(list) {
    const { maxBytes, maxFiles } = S.config.files;
    for (const file of Array.from(list || [])) {
      if (S.tray.length >= maxFiles) return fileError("too_many_files", { n: maxFiles });
      if (file.size > maxBytes) {
        fileError("file_too_big", { file: file.name, limit: humanSize(maxBytes) });
        continue;
      }
      if (file.size === 0) { fileError("empty_file", { file: file.name }); continue; }
      const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
      S.tray.push({ file, preview });
    }
    renderTray();
  }

  function fileError(code, values) {
    showError(code, fill(T.errors[code] || T.errors.other, values));
  }

  function renderTray() {
    const { tray, attach } = S.ui;
    tray.replaceChildren(...S.tray.map((entry) => {
      const name = entry.file.name || "file";
      return h("div", { class: "chip", part: "chip", role: "listitem" },
        entry.preview ? h("img", { src: entry.preview, alt: "" }) : icon("file", 18),
        h("span", { class: "chip-name", part: "chip-name", text: name, title: name }),
        h("span", { class: "chip-size", text: humanSize(entry.file.size) }),
        h("button", { type: "button", class: "chip-remove", part: "chip-remove",
          "aria-label": fill(T.removeFile, { name }), onclick: () => removeFromTray(entry) },
        icon("close", 16)));
    }));
    if (attach) attach.disabled = S.tray.length >= S.config.files.maxFiles;
  }

  function removeFromTray(entry) {
    S.tray = S.tray.filter((e) => e !== entry);
    if (entry.preview) URL.revokeObjectURL(entry.preview);
    renderTray();
    S.ui.input.focus();
  }

  // ---- messages -----------------------------------------------------------------------

  function validMessage(m) {
    if (!m || typeof m !== "object" || typeof m.id !== "string" || !m.id) return null;
    const direction = ["patron", "librarian", "system"].includes(m.direction) ? m.direction : "librarian";
    return {
      id: m.id,
      cid: typeof m.cid === "string" ? m.cid : "",
      direction,
      author: typeof m.author === "string" ? m.author : "",
      text: typeof m.text === "string" ? m.text : "",
      event: typeof m.event === "string" ? m.event : "",
      at: Number.isFinite(m.at) ? m.at : Date.now() / 1000,
      conversation: typeof m.conversation === "string" ? m.conversation : "",
      replaces: typeof m.replaces === "string" ? m.replaces : "",
      attachments: Array.isArray(m.attachments) ? m.attachments.map(validAttachment).filter(Boolean) : [],
    };
  }

  function validAttachment(a) {
    if (!a || typeof a !== "object") return null;
    const text = (v) => (typeof v === "string" ? v : "");
    // Only a link to our own file endpoint is followed; anything else shows as a name.
    const url = text(a.url).startsWith("/widget/files/") ? safeHref(BASE + a.url) : null;
    return { kind: text(a.kind), name: text(a.name) || "file", mime: text(a.mime).toLowerCase(),
      size: Number.isFinite(a.size) ? a.size : 0, url, note: text(a.note) };
  }

  const INLINE_IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

  /** A message's files: images as thumbnails, sound with a player, the rest as links. */
  function filesElement(attachments) {
    return h("div", { class: "files", part: "files" }, ...attachments.map((a) => {
      if (!a.url) {
        const why = a.note ? " — " + a.note : "";
        return h("span", { class: "file is-missing", part: "file-missing",
          text: `${a.name} (${humanSize(a.size)})${why}` });
      }
      if (a.kind === "photo" || INLINE_IMAGES.includes(a.mime)) {
        return h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer", part: "image-link",
          "aria-label": fill(T.openImage, { name: a.name }) },
        h("img", { class: "thumb", part: "image", src: a.url, alt: a.name, loading: "lazy" }));
      }
      const link = h("a", { href: a.url, class: "file", part: "file", download: a.name, rel: "noopener",
        "aria-label": fill(T.download, { name: a.name }) + " (" + humanSize(a.size) + ")" },
      icon("file", 18), h("span", { class: "file-name", text: a.name }),
      h("span", { class: "file-size", text: humanSize(a.size) }));
      if (a.kind === "voice" || a.kind === "audio" || a.mime.startsWith("audio/")) {
        return h("div", { class: "audio", part: "audio-box" },
          h("audio", { controls: true, preload: "metadata", src: a.url, part: "audio", "aria-label": a.name }),
          link);
      }
      return link;
    }));
  }

  function bubble(author, text, at, extra) {
    const meta = h("div", { class: "meta" },
      h("span", { part: "author", class: "author", text: author }),
      at == null ? null : h("time", { datetime: new Date(at * 1000).toISOString(), text: formatTime(at) }),
      extra);
    // Author first in the DOM so screen readers say who before what; CSS shows it below.
    return [meta, h("div", { part: "text", class: "bubble" }, richText(text))];
  }

  /** A system line in the patron's own words; the server's text is the fallback. */
  function systemText(msg) {
    if (msg.event === "claimed" && msg.author) return fill(T.answering, { name: msg.author });
    if (msg.event === "closed") return T.closed;
    if (msg.event === "reopened") return T.reopened;
    return msg.text;
  }

  function messageElement(msg) {
    if (msg.direction === "system" && msg.event === "rating_request") return ratingElement(msg);
    if (msg.direction === "system") {
      const text = systemText(msg);
      return h("div", { part: "message", class: "msg", "data-direction": "system", "data-id": msg.id,
        "data-event": msg.event || null }, h("span", { part: "text", class: "system-text", text }));
    }
    const author = msg.direction === "patron" ? T.you : msg.author || S.config.library;
    return h("div", { part: "message", class: "msg", "data-direction": msg.direction, "data-id": msg.id },
      ...bubble(author, msg.text, msg.at), filesElement(msg.attachments));
  }

  /** A librarian corrected a reply: its bubble shows the new text, marked as edited. */
  function applyEdit(msg) {
    const el = S.messages.get(msg.replaces);
    if (!el || !el.isConnected || el.classList.contains("is-withdrawn")) return Boolean(el);
    const text = el.querySelector('[part~="text"]');
    if (text) text.replaceChildren(richText(msg.text));
    const meta = el.querySelector(".meta");
    if (meta && !meta.querySelector('[part="edited"]')) {
      meta.append(h("span", { class: "edited", part: "edited", text: T.edited }));
    }
    return true;
  }

  /** A librarian took a reply back: it gives way to a line saying so, in the same place. */
  function applyWithdrawal(msg) {
    const el = S.messages.get(msg.replaces);
    if (!el || el.classList.contains("is-withdrawn")) return;
    const line = h("div", { part: "message withdrawn", class: "msg is-withdrawn",
      "data-direction": el.dataset.direction || "librarian", "data-id": msg.replaces, "data-withdrawn": "" },
    h("span", { part: "text", class: "withdrawn-text", text: T.withdrawn }));
    el.replaceWith(line);
    S.messages.set(msg.replaces, line);
    const entry = S.order.find((e) => e.id === msg.replaces);
    if (entry) entry.el = line;
  }

  /** An edit or a withdrawal changes a bubble already shown; false when it must be shown
      itself (an edit of a reply this tab never had). */
  function applyChange(msg) {
    if (msg.event === "withdrawn" && msg.replaces) { applyWithdrawal(msg); return true; }
    if (msg.event === "edited" && msg.replaces) return applyEdit(msg);
    return false;
  }

  /** Show a stored message once, in time order, before any still-pending ones. */
  function receive(raw, { fromHistory = false } = {}) {
    const msg = validMessage(raw);
    if (!msg) return false;
    if (msg.direction === "patron" && msg.cid && outbox.get(msg.cid)) settle(msg.cid);
    if (S.messages.has(msg.id)) return false;
    if (msg.direction === "librarian" && !fromHistory) showQueue(null); // answered
    if (applyChange(msg)) {
      S.messages.set(msg.id, S.messages.get(msg.replaces) || null);
      if (msg.at >= S.lastAt) { S.lastAt = msg.at; S.lastId = msg.id; }
      return true;
    }
    const stick = nearBottom() || msg.direction === "patron";
    const el = messageElement(msg);
    if (msg.event === "edited") el.querySelector(".meta").append(
      h("span", { class: "edited", part: "edited", text: T.edited }));
    let i = S.order.length;
    while (i > 0 && S.order[i - 1].at > msg.at) i--;
    S.ui.stored.insertBefore(el, i < S.order.length ? S.order[i].el : null);
    S.order.splice(i, 0, { id: msg.id, at: msg.at, el, event: msg.event });
    S.messages.set(msg.id, el);
    if (msg.at >= S.lastAt) { S.lastAt = msg.at; S.lastId = msg.id; }
    if (msg.conversation && (!S.conversation || S.conversation.id !== msg.conversation)) {
      S.conversation = { id: msg.conversation, status: "open", claimed_by: "", rating: null };
      applyMode(); // another tab sent the offline form: this one shows the chat too
    }
    if (msg.direction === "system" && !fromHistory) liveEvent(msg);
    if (!S.isOpen && !fromHistory && msg.direction !== "patron") { S.unread++; updateBadge(); announce(msg, el); }
    if (stick) scrollToEnd();
    return true;
  }

  /** A status change seen as it happens (history is summed up by the welcome instead). */
  function liveEvent(msg) {
    if (msg.event === "claimed") setClaim(msg.author);
    if (msg.event !== "closed" && msg.event !== "reopened") return;
    if (msg.event === "closed") { setClaim(""); showQueue(null); }
    if (S.conversation && (!msg.conversation || S.conversation.id === msg.conversation)) {
      S.conversation.status = msg.event === "closed" ? "closed" : "open";
    }
    refreshRatings();
    applyMode();
  }

  /** "You are number 3 in the queue…" while the patron waits for a first answer; a frame
      without a place (answered, closed) or a librarian's reply takes it away. */
  function showQueue(frame) {
    if (!S.ui) return;
    const position = frame && Number.isInteger(frame.position) && frame.position > 0 ? frame.position : 0;
    const mine = frame && (!S.conversation || !frame.conversation || frame.conversation === S.conversation.id);
    S.queue = position && mine ? frame : null;
    const line = S.ui.queue;
    line.hidden = !S.queue;
    if (!S.queue) { line.textContent = ""; return; }
    const texts = frame.text && typeof frame.text === "object" ? frame.text : {};
    const minutes = Number.isFinite(frame.wait) ? Math.max(1, Math.round(frame.wait / 60)) : "?";
    const text = [texts[LANG], texts.en].find((t) => typeof t === "string" && t.trim());
    line.textContent = text || fill(T.queue, { n: position, m: minutes });
  }

  function pendingElement(item) {
    const state = h("span", { class: "delivery", part: "delivery", text: T.sending });
    const files = (item.files || []).map((f) => ({ kind: "", name: f.name || "file", mime: "",
      size: f.size, url: null, note: "" }));
    const el = h("div", { part: "message pending", class: "msg is-pending", "data-direction": "patron",
      "data-cid": item.cid }, ...bubble(T.you, item.text, null, state), filesElement(files));
    item.el = el;
    item.stateEl = state;
    return el;
  }

  function showPending(item) {
    S.ui.pending.append(pendingElement(item));
    scrollToEnd();
  }

  function markSending(item) {
    if (!item.stateEl) return;
    const retry = item.stateEl.querySelector("button");
    if (retry) item.stateEl.replaceChildren(T.sending);
    item.stateEl.className = "delivery";
  }

  function markFailed(cid) {
    const item = outbox.get(cid);
    clearTimeout(S.ackTimers.get(cid));
    S.ackTimers.delete(cid);
    if (!item || !item.stateEl) return;
    item.stateEl.replaceChildren(h("button", { type: "button", class: "retry", part: "retry",
      text: T.failed, onclick: () => retry(cid) }));
  }

  function retry(cid) {
    const item = outbox.get(cid);
    if (!item) return;
    markSending(item);
    if (S.connected) sendItem(item);
    else reconnectNow();
  }

  /** The server has the message (ack, or it came back with our cid): drop the pending copy. */
  function settle(cid) {
    const item = outbox.get(cid);
    clearTimeout(S.ackTimers.get(cid));
    S.ackTimers.delete(cid);
    if (item && item.el) item.el.remove();
    outbox.remove(cid);
  }

