  // ---- boot ---------------------------------------------------------------------------

  async function fetchConfig() {
    const early = LOADER.config && (await LOADER.config); // fetched beside this file
    if (early) return early;
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const response = await fetch(BASE + "/widget/config", { credentials: "omit" });
        if (response.ok) return await response.json();
      } catch { /* offline or the bridge is restarting: try again below */ }
      await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** attempt)));
    }
    return null;
  }

  /** The library's settings, read once the language is chosen (greetings come in it). */
  async function loadConfig() {
    const raw = await fetchConfig();
    if (!raw || typeof raw !== "object") return null;
    await useLanguage(chooseLanguage(raw.languages, raw.language));
    return readConfig(raw);
  }

  async function boot() {
    const config = await loadConfig();
    if (!config) {
      console.warn("Pustaka chat: could not load", BASE + "/widget/config");
      return;
    }
    await LOADER.drawn; // the bubble and its shadow root, which the chat builds into
    S.config = config;
    S.availability = config.availability;
    S.ui = buildUi(config);
    S.sendableAt = Number(store.get(KEY_SENDABLE)) || 0;
    if (S.sendableAt) tickWait(); // a countdown from before a reload goes on
    updateCounter();
    applyMode();
    if (RESUME) await resumeFrom(RESUME);
    const httpUntil = Number(store.get(KEY_HTTP_ONLY, "sessionStorage"));
    if (typeof WebSocket !== "function" || httpUntil > Date.now()) useHttp();
    outbox.load();
    for (const item of outbox.items) showPending(item);
    // A returning patron connects at once so replies reach them while they browse;
    // a first-time visitor gets no identity until they open the chat.
    if (store.get(KEY_TOKEN) || outbox.items.length) start();
    if (S.wantOpen) open();
    watchPages();
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") reconnectNow();
    });
    S.booted = true;
  }

  /** An email link's resume token becomes this browser's identity, then the chat opens. */
  async function resumeFrom(token) {
    let reply = null;
    try { reply = await http("POST", "/widget/api/resume", { resume: token }); } catch { /* below */ }
    S.wantOpen = true;
    const data = reply && reply.ok ? reply.data : null;
    if (data && data.type === "resumed" && typeof data.token === "string" && data.token) {
      store.set(KEY_TOKEN, data.token);
      return;
    }
    showNotice(reply && reply.status === 401 ? T.resumeBad : T.errors.other);
  }

  LOADER.chat = {
    open: () => open(),
    close,
    toggle: () => (S.isOpen ? close() : open()),
    state: () => ({
      connected: S.connected,
      transport: S.transport,
      messages: S.order.map((entry) => entry.id),
      pending: outbox.items.length,
      lang: LANG,
      ready: Boolean(S.booted),
      loaded: true,
      staffed: S.availability.staffed,
      offlineForm: Boolean(S.ui && !S.ui.offline.el.hidden),
      files: Boolean(S.config && S.config.files.enabled),
      tray: S.tray.length,
      queue: S.queue ? S.queue.position : null,
      sendableIn: Math.max(0, Math.ceil((S.sendableAt - Date.now()) / 1000)),
    }),
  };

  boot();
})();
