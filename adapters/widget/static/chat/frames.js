  // ---- frames from the server (both transports) ------------------------------------------

  function helloBody() {
    let tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { /* old browser */ }
    return {
      token: store.get(KEY_TOKEN) || null,
      since: S.lastId,
      page: pageInfo(),
      lang: LANG,
      tz,
      referrer: document.referrer.slice(0, 500), // the server keeps only its host
    };
  }

  const pageInfo = () => ({ url: location.href.slice(0, 500), title: document.title.slice(0, 200) });

  /** A single-page catalogue moves to another page without loading one: tell the desk
      (over the socket; the HTTP fallback's next hello carries the page anyway). */
  function watchPages() {
    let last = location.href;
    const moved = () => setTimeout(() => { // after the site has set the new page's title
      if (location.href === last) return;
      last = location.href;
      sendFrame({ type: "page", page: pageInfo() });
    }, 50);
    const push = history.pushState;
    history.pushState = function pushState(...args) {
      const result = push.apply(this, args);
      moved();
      return result;
    };
    window.addEventListener("popstate", moved);
  }

  function handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "welcome": return onWelcome(frame);
      case "ack": return onAck(frame);
      case "message": return void receive(frame.message);
      case "error": return onError(frame);
      case "profile_saved": return onProfileSaved(frame);
      case "email_confirmed": return onEmailConfirmed();
      case "offline_saved": return onOfflineSaved(frame);
      case "rated": return onRated(frame);
      case "transcript_sent": return onTranscriptSent(frame);
      case "queue": return showQueue(frame);
      case "greet": return onGreet(frame);
      default: return undefined; // pong, or a frame type from a newer server
    }
  }

  function onWelcome(welcome) {
    if (typeof welcome.token === "string" && welcome.token) store.set(KEY_TOKEN, welcome.token);
    const catchingUp = S.everConnected; // after a drop, history holds news for the patron
    S.connected = true;
    S.everConnected = true;
    S.attempt = 0;
    setConnectionBanner("");
    const conversation = welcome.conversation;
    const current = () => (conversation && typeof conversation === "object" ? { ...conversation } : null);
    S.conversation = current(); // first, so history lines know which conversation they are in
    if ("availability" in welcome) S.availability = readAvailability(welcome.availability);
    for (const m of Array.isArray(welcome.history) ? welcome.history : []) {
      receive(m, { fromHistory: !catchingUp });
    }
    S.conversation = current(); // the server's word is final, whatever the lines said
    if ("queue" in welcome) showQueue(welcome.queue);
    const claimed = conversation && conversation.status !== "closed" && conversation.claimed_by;
    setClaim(typeof claimed === "string" ? claimed : "");
    refreshRatings();
    applyMode();
    flushOutbox();
    sendProfile();
    sendOffline();
  }

  /** A librarian greeted this visitor from the desk (/greet): their words start the
      conversation they claimed for it; receive() opens the panel. */
  function onGreet(frame) {
    const conversation = frame.conversation;
    if (conversation && typeof conversation === "object" && typeof conversation.id === "string") {
      S.conversation = { ...conversation };
      if (typeof conversation.claimed_by === "string") setClaim(conversation.claimed_by);
    }
    receive(frame.message);
    applyMode();
  }

  function onAck(frame) {
    const cid = typeof frame.cid === "string" ? frame.cid : "";
    receive(frame.message);
    onPrechatProfile(frame.profile); // prechat.js: a code went to the form's address
    if (cid) settle(cid);
    if (S.ui.error.dataset.code && S.ui.error.dataset.code !== "too_long" && !waitingToSend()) {
      showError("");
    }
  }

  function onError(frame) {
    const code = typeof frame.code === "string" ? frame.code : "other";
    if (code === "bad_token") return forgetIdentity();
    if (code === "no_hello") return sendFrame({ type: "hello", ...helloBody() });
    const cid = typeof frame.cid === "string" ? frame.cid : "";
    if (S.offline && cid === S.offline.cid) return onOfflineError(frame);
    if (cid.startsWith(TX_CID)) return transcriptRefused(frame);
    const rating = ratingFor(cid);
    if (rating) return ratingRefused(rating, code);
    if (["bad_email", "bad_name", "too_long_profile"].includes(code)) return profileRefused(code);
    if (code === "bad_code") return profileNote("bad_code");
    // A block's text is the library's own polite words: show them as they are.
    const text = code === "blocked" && typeof frame.message === "string" ? frame.message : "";
    if (cid && outbox.get(cid)) return refused(cid, code, text, frame.retry_after);
    showError(code, text);
  }

  /** The stored token was refused: start as a new visitor, keeping unsent messages. */
  function forgetIdentity() {
    store.del(KEY_TOKEN);
    S.lastId = null;
    S.lastAt = -Infinity;
    const profile = store.json(KEY_PROFILE, null);
    requeueProfile();
    if (profile && (profile.name || profile.email)) S.profileQueued = profile;
    if (S.transport === "ws") sendFrame({ type: "hello", ...helloBody() });
    else { S.connected = false; httpHello(); }
  }

