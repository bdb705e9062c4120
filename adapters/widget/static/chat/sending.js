  function submit() {
    if (waitingToSend()) return; // the draft stays; the countdown says when
    const { input } = S.ui;
    const text = input.value.replace(/\r\n/g, "\n").trim();
    if (!text && !S.tray.length) return;
    if (countChars(text) > S.config.maxText) { showError("too_long"); return; }
    const item = { cid: newCid(), text, at: Date.now() / 1000 };
    if (S.tray.length) {
      item.files = S.tray.map((entry) => entry.file);
      for (const entry of S.tray) if (entry.preview) URL.revokeObjectURL(entry.preview);
      S.tray = [];
      renderTray();
      outbox.addLive(item);
    } else {
      outbox.add(item);
    }
    showPending(item);
    input.value = "";
    store.del(KEY_DRAFT);
    autoGrow();
    updateCounter();
    showError("");
    if (S.connected) sendItem(item);
    else if (S.started) reconnectNow();
    else start();
  }

  function sendItem(item) {
    if (item.files) return uploadItem(item);
    // Files being stored first: this text follows them, so the desk reads it after them.
    if (outbox.items.some((other) => other.files && (other.uploading || other.waitingUpload)
        && other.at <= item.at)) {
      item.held = true;
      return;
    }
    markSending(item);
    clearTimeout(S.ackTimers.get(item.cid));
    S.ackTimers.set(item.cid, setTimeout(() => markFailed(item.cid), ACK_TIMEOUT));
    if (S.transport === "ws") {
      sendFrame({ type: "send", ...sendBody(item) }); // prechat.js
    } else {
      if (!S.httpQueue.includes(item.cid)) S.httpQueue.push(item.cid);
      drainHttpQueue();
    }
  }

  /** An upload ended, whatever became of it: the next upload starts, and the texts that
      waited behind it go (those behind the next one wait again). */
  function afterUpload() {
    const next = outbox.items.find((other) => other.waitingUpload);
    if (next && S.connected) sendItem(next);
    releaseHeld();
  }

  function releaseHeld() {
    for (const item of [...outbox.items]) {
      if (item.held) { item.held = false; if (S.connected) sendItem(item); }
    }
  }

  /** One multipart POST per message, one at a time (the server reads one upload per
      visitor at once); XHR, because fetch cannot report upload progress. */
  function uploadItem(item) {
    if (item.uploading) return;
    if (outbox.items.some((other) => other !== item && other.files && other.uploading)) {
      item.waitingUpload = true;
      return;
    }
    const token = store.get(KEY_TOKEN);
    if (!token) return; // no identity yet: the next welcome sends it
    item.waitingUpload = false;
    item.uploading = true;
    markSending(item);
    const form = new FormData();
    form.append("cid", item.cid);
    form.append("text", item.text);
    for (const file of item.files) form.append("file", file, file.name || "file");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + "/widget/api/upload");
    xhr.setRequestHeader("Authorization", "Bearer " + token);
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable || !item.stateEl) return;
      const p = Math.min(99, Math.floor((100 * event.loaded) / event.total));
      item.stateEl.replaceChildren(fill(T.uploading, { p }));
    };
    xhr.onload = () => {
      item.uploading = false;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* judged by status */ }
      if (xhr.status === 200 && data && data.type === "ack") onAck(data);
      else if (xhr.status === 401) { markFailed(item.cid); forgetIdentity(); }
      else if (data && data.type === "error") uploadRefused(item, data);
      else markFailed(item.cid);
      afterUpload();
    };
    xhr.onerror = xhr.onabort = xhr.ontimeout = () => {
      item.uploading = false;
      markFailed(item.cid);
      afterUpload();
    };
    xhr.send(form);
  }

  /** A refused upload: the caption goes back to the composer and the files to the tray,
      less the one refused (``index``: its place in the form, as the server may have
      cleaned its name), so the patron can send the rest again. */
  function uploadRefused(item, frame) {
    const code = typeof frame.code === "string" ? frame.code : "other";
    if (code === "rate_limited") return rateLimited(item, frame.retry_after);
    if (["internal", "busy", "too_slow"].includes(code)) {
      return refused(item.cid, code);
    }
    const bad = typeof frame.file === "string" ? frame.file : "";
    const index = Number.isInteger(frame.index) ? frame.index : -1;
    settle(item.cid);
    if (!S.ui.input.value.trim()) { S.ui.input.value = item.text; autoGrow(); updateCounter(); }
    for (const [n, file] of item.files.entries()) {
      if (n === index) continue;
      const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
      S.tray.push({ file, preview });
    }
    renderTray();
    const values = { file: bad, limit: humanSize(S.config.files.maxBytes), n: S.config.files.maxFiles,
      max: S.config.maxText };
    // The library's own words, and the day's quota or the disk's state in figures.
    const own = ["blocked", "quota", "disk_full"].includes(code);
    const text = own && typeof frame.message === "string" ? frame.message
      : T.errors[code] ? fill(T.errors[code], values) : frame.message;
    showError(code, typeof text === "string" ? text : "");
  }

  function flushOutbox() {
    for (const item of [...outbox.items]) sendItem(item);
  }

  /** A refused message: lasting refusals give the text back to the patron to edit; a rate
      limit puts it back in the composer too, and holds sending until the server allows. */
  function refused(cid, code, text = "", retryAfter = undefined) {
    const item = outbox.get(cid);
    if (!item) return;
    if (code === "rate_limited") return rateLimited(item, retryAfter);
    if (["internal", "busy", "too_slow"].includes(code)) {
      markFailed(cid);
    } else {
      settle(cid);
      const { input } = S.ui;
      if (code !== "empty" && !input.value.trim()) {
        input.value = item.text;
        autoGrow();
        updateCounter();
      }
    }
    showError(code, text);
  }

  // ---- rate limit: one draft and a countdown instead of a pile of "not sent" bubbles -----

  /** The server refused this message as too fast: its text (and files) go back to the
      composer, after whatever earlier refusals put there, and sending waits. */
  function rateLimited(item, retryAfter) {
    settle(item.cid);
    const { input } = S.ui;
    const draft = input.value.replace(/\s+$/, "");
    if (item.text) input.value = draft ? draft + "\n" + item.text : item.text;
    for (const file of item.files || []) {
      S.tray.push({ file, preview: file.type.startsWith("image/") ? URL.createObjectURL(file) : "" });
    }
    if (item.files) renderTray();
    store.set(KEY_DRAFT, input.value);
    autoGrow();
    holdSending(retryAfter);
  }

  function waitingToSend() {
    return S.sendableAt > Date.now();
  }

  /** Disable sending for ``seconds`` (the server's retry_after), counting down visibly. */
  function holdSending(seconds) {
    const wait = Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), 3600) : 5;
    const until = Date.now() + wait * 1000;
    if (until > S.sendableAt) S.sendableAt = until;
    store.set(KEY_SENDABLE, String(S.sendableAt));
    showError("rate_limited");
    tickWait();
  }

  function tickWait() {
    clearTimeout(S.waitTimer);
    const left = Math.ceil((S.sendableAt - Date.now()) / 1000);
    if (left > 0) {
      S.ui.wait.textContent = fill(T.sendAgainIn, { n: left });
      S.ui.send.disabled = true;
      S.waitTimer = setTimeout(tickWait, S.sendableAt - Date.now() - (left - 1) * 1000);
      return;
    }
    S.sendableAt = 0;
    store.del(KEY_SENDABLE);
    S.ui.wait.textContent = "";
    if (S.ui.error.dataset.code === "rate_limited") showError("");
    updateCounter(); // re-enables the send button (unless the draft is too long)
  }

