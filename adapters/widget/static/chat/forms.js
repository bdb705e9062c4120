  // ---- profile ------------------------------------------------------------------------

  function saveProfile() {
    const { name, email, note } = S.ui.profile;
    const profile = { name: name.value.replace(/\s+/g, " ").trim(), email: email.value.trim() };
    note.classList.remove("bad");
    if (profile.name.length > 200 || profile.email.length > 200) return profileNote("too_long_profile");
    if (profile.email && !/^[^\s@]+@[^\s@]+$/.test(profile.email)) return profileNote("bad_email");
    name.value = profile.name;
    email.value = profile.email;
    store.set(KEY_PROFILE, JSON.stringify(profile));
    note.textContent = ""; // "Saved" appears only when the server says so
    S.profileQueued = profile;
    sendProfile();
  }

  function profileNote(code) {
    const { note } = S.ui.profile;
    note.classList.add("bad");
    note.textContent = T.errors[code] || T.errors.other;
  }

  /** Send the queued profile; until it is confirmed it is sent again after a reconnect. */
  function sendProfile() {
    const profile = S.profileQueued;
    if (!profile || !S.connected) return;
    S.profileQueued = null;
    S.profileSent = profile;
    S.profileWaiting++;
    if (S.transport === "ws") sendFrame({ type: "profile", ...profile });
    else httpProfile(profile);
  }

  async function httpProfile(profile) {
    let reply = null;
    try { reply = await http("POST", "/widget/api/profile", profile); } catch { /* below */ }
    if (reply && reply.ok && reply.data && reply.data.type === "profile_saved") return onProfileSaved(reply.data);
    if (reply && reply.status === 401) return forgetIdentity(); // requeues the stored profile
    if (reply && reply.data && reply.data.type === "error") return profileRefused(reply.data.code);
    // The network or the server failed: send it again after the next hello.
    S.profileWaiting = Math.max(0, S.profileWaiting - 1);
    if (!S.profileQueued) S.profileQueued = profile;
    S.profileSent = null;
  }

  function onProfileSaved(frame) {
    S.profileWaiting = Math.max(0, S.profileWaiting - 1);
    if (S.profileWaiting || S.profileQueued) return; // a newer save is still on its way
    S.profileSent = null;
    const { note, codeForm } = S.ui.profile;
    note.classList.remove("bad");
    if (frame && frame.email_confirmed === true) transcriptAddressConfirmed();
    const sent = Boolean(frame && frame.code_sent);
    note.textContent = sent ? fill(T.codeSent, { email: String(frame.email || "") }) : T.saved;
    codeForm.hidden = !sent;
  }

  function sendCode() {
    const code = S.ui.profile.code.value.trim();
    if (!code || !S.connected) return;
    if (S.transport === "ws") return sendFrame({ type: "confirm_email", code });
    http("POST", "/widget/api/confirm", { code }).then((reply) => {
      if (reply.ok && reply.data && reply.data.type === "email_confirmed") return onEmailConfirmed();
      if (reply.status === 401) return forgetIdentity();
      profileNote(reply.data && reply.data.code === "bad_code" ? "bad_code" : "other");
    }, () => profileNote("other"));
  }

  function onEmailConfirmed() {
    transcriptAddressConfirmed();
    const { note, code, codeForm } = S.ui.profile;
    note.classList.remove("bad");
    note.textContent = T.emailConfirmed;
    code.value = "";
    codeForm.hidden = true;
  }

  function profileRefused(code) {
    S.profileWaiting = Math.max(0, S.profileWaiting - 1);
    if (!S.profileWaiting) S.profileSent = null;
    profileNote(code);
  }

  /** The link dropped: a profile sent but not confirmed goes out again after the next hello. */
  function requeueProfile() {
    if (S.profileSent && !S.profileQueued) S.profileQueued = S.profileSent;
    S.profileSent = null;
    S.profileWaiting = 0;
  }

  // ---- after hours: the offline form ---------------------------------------------------

  function hasOpenConversation() {
    return Boolean(S.conversation && S.conversation.status === "open");
  }

  /** The form (the offline form, shaped into the library's pre-chat form by prechat.js)
      in place of the composer, when there is no open conversation. */
  function applyMode() {
    if (!S.ui) return;
    const { panel, offline, offlineNote, log } = S.ui;
    const away = !S.availability.staffed;
    preparePrechat(away);
    const formShown = prechatWanted(away) && !hasOpenConversation() && outbox.items.length === 0;
    panel.classList.toggle("is-offline", formShown);
    offline.el.hidden = !formShown;
    log.classList.toggle("has-history", S.order.length > 0);
    offline.opens.textContent = S.availability.opens;
    offline.opens.hidden = !S.availability.opens || !away;
    const noteShown = away && !formShown;
    offlineNote.hidden = !noteShown;
    if (noteShown) {
      const email = S.offlineEmail || (store.json(KEY_PROFILE, {}) || {}).email || "";
      offlineNote.textContent = S.config.email === false ? T.offlineSentChat
        : email ? fill(T.offlineSent, { email }) : T.afterHours;
      if (S.availability.opens) offlineNote.textContent += " " + S.availability.opens;
    }
    showLibraryLine();
    refreshTranscript();
  }

  function submitOffline() {
    const form = S.ui.offline;
    const question = {
      cid: newCid(),
      name: form.name.value.replace(/\s+/g, " ").trim(),
      email: form.email.value.trim(),
      text: form.question.value.replace(/\r\n/g, "\n").trim(),
    };
    const answers = prechatAnswers(question);
    const problem = prechatProblem(question, answers)
      || (!question.text ? ["empty", form.question]
      : countChars(question.text) > S.config.maxText ? ["too_long", form.question] : null);
    if (problem) return offlineRefused(problem[0], problem[1]);
    if (S.availability.staffed) return sendPrechat(question, answers);
    question.prechat = answers;
    const last = S.offlineLast; // pressed again after a timeout: the same cid, never a double
    if (last && last.name === question.name && last.email === question.email && last.text === question.text) {
      question.cid = last.cid;
    }
    S.offlineLast = question;
    offlineRefused("");
    store.set(KEY_PROFILE, JSON.stringify({ name: question.name, email: question.email }));
    form.submit.disabled = true;
    S.offline = question;
    clearTimeout(S.offlineTimer);
    S.offlineTimer = setTimeout(() => offlineRefused("not_sent"), ACK_TIMEOUT);
    if (S.connected) sendOffline();
    else if (S.started) reconnectNow();
    else start();
  }

  /** Send the form; until it is saved, it goes again (same cid) after each hello. */
  function sendOffline() {
    const question = S.offline;
    if (!question || !S.connected) return;
    if (S.transport === "ws") return sendFrame({ type: "offline", ...question });
    http("POST", "/widget/api/offline", question).then((reply) => {
      if (reply.ok && reply.data && reply.data.type === "offline_saved") return onOfflineSaved(reply.data);
      if (reply.status === 401) return forgetIdentity();
      if (reply.data && reply.data.type === "error") return onOfflineError(reply.data);
      return offlineRefused("not_sent");
    }, () => offlineRefused("not_sent"));
  }

  function onOfflineSaved(frame) {
    const form = S.ui.offline;
    clearTimeout(S.offlineTimer);
    S.offlineEmail = typeof frame.email === "string" ? frame.email : (S.offline || {}).email || "";
    S.offline = null;
    form.submit.disabled = false;
    form.question.value = "";
    if (frame.conversation && typeof frame.conversation === "object") S.conversation = frame.conversation;
    receive(frame.message);
    applyMode();
    scrollToEnd();
  }

  function onOfflineError(frame) {
    const code = typeof frame.code === "string" ? frame.code : "other";
    const field = { missing_name: "name", bad_name: "name", too_long_profile: "name",
      missing_email: "email", bad_email: "email", empty: "question", too_long: "question",
      missing_member_number: "member", bad_member_number: "member", missing_topic: "topic",
      bad_topic: "topic" }[code];
    const lasting = code !== "rate_limited" && code !== "internal";
    if (lasting) S.offline = null;
    if (code === "desk_open") { S.availability.staffed = true; applyMode(); } // write in the chat
    const text = code === "blocked" && typeof frame.message === "string" ? frame.message : "";
    offlineRefused(code, field ? S.ui.offline[field] : null, text);
  }

  /** Show what is wrong with the form (or nothing, with ""), on the field it concerns. */
  function offlineRefused(code, field = null, text = "") {
    const form = S.ui.offline;
    for (const el of [form.name, form.email, form.question, form.member, form.topic]) {
      if (el) el.removeAttribute("aria-invalid");
    }
    form.error.textContent = code
      ? text || fill(T.errors[code] || T.errors.other, { max: S.config.maxText }) : "";
    if (!code) return;
    clearTimeout(S.offlineTimer);
    form.submit.disabled = false;
    if (code === "not_sent") S.offline = null; // the patron presses again; same form, new try
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }

  // ---- ratings ----------------------------------------------------------------------

  function ratingElement(msg) {
    const entry = { id: msg.id, at: msg.at, conversation: msg.conversation, score: 0 };
    const stars = [1, 2, 3, 4, 5].map((n) => h("button", {
      type: "button", class: "star", part: "star", "aria-label": fill(T.star, { n }),
      "aria-pressed": "false", "data-score": n, text: "★", onclick: () => chooseStars(entry, n),
    }));
    const comment = h("textarea", { part: "rating-comment", rows: "2", maxlength: String(MAX_COMMENT),
      "aria-label": T.rateComment, placeholder: T.rateComment });
    const sendBtn = h("button", { type: "button", class: "small-btn", part: "rating-send", disabled: true,
      text: T.rateSend, onclick: () => sendRating(entry) });
    const note = h("p", { class: "form-error", part: "rating-note", role: "alert" });
    const box = h("div", { class: "rating", part: "rating", role: "group", "aria-label": T.rateAsk },
      h("div", { class: "stars" }, ...stars), comment, sendBtn, note);
    box.addEventListener("keydown", (event) => moveStarFocus(event, stars));
    Object.assign(entry, { box, stars, comment, sendBtn, note });
    S.ratings.push(entry);
    return h("div", { part: "message", class: "msg", "data-direction": "system", "data-id": msg.id,
      "data-event": "rating_request" }, h("span", { part: "text", class: "system-text", text: T.rateAsk }), box);
  }

  function moveStarFocus(event, stars) {
    const i = stars.indexOf(event.target);
    if (i < 0 || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    event.preventDefault();
    stars[Math.min(4, Math.max(0, i + (event.key === "ArrowRight" ? 1 : -1)))].focus();
  }

  function chooseStars(entry, n) {
    entry.score = n;
    entry.stars.forEach((star, i) => {
      star.classList.toggle("on", i < n);
      star.setAttribute("aria-pressed", String(i === n - 1));
    });
    entry.sendBtn.disabled = false;
    entry.note.textContent = "";
  }

  function sendRating(entry) {
    const comment = entry.comment.value.replace(/\r\n/g, "\n").trim();
    if (!entry.score) return ratingRefused(entry, "bad_rating");
    if (comment.length > MAX_COMMENT) return ratingRefused(entry, "comment_long");
    if (!S.connected) return ratingRefused(entry, "not_sent");
    entry.sendBtn.disabled = true;
    const frame = { cid: "rate:" + entry.id, conversation: entry.conversation || "",
      score: entry.score, comment };
    if (S.transport === "ws") return sendFrame({ type: "rate", ...frame });
    http("POST", "/widget/api/rate", frame).then((reply) => {
      if (reply.ok && reply.data && reply.data.type === "rated") return onRated(reply.data);
      if (reply.data && reply.data.type === "error") return ratingRefused(entry, reply.data.code);
      return ratingRefused(entry, "not_sent");
    }, () => ratingRefused(entry, "not_sent"));
  }

  function ratingRefused(entry, code) {
    entry.sendBtn.disabled = !entry.score;
    entry.note.textContent = fill(T.errors[code] || T.errors.other, { max: MAX_COMMENT });
  }

  function onRated(frame) {
    if (S.conversation && S.conversation.id === frame.conversation) S.conversation.rating = frame.score;
    for (const entry of S.ratings) if (entry.conversation === frame.conversation) entry.rated = true;
    refreshRatings();
  }

  /** A rated conversation thanks the patron; a request older than a reopening is moot. */
  function refreshRatings() {
    const rated = S.conversation && Number.isInteger(S.conversation.rating);
    const reopened = S.order.filter((e) => e.event === "reopened").map((e) => e.at);
    const lastReopen = reopened.length ? Math.max(...reopened) : -Infinity;
    for (const entry of S.ratings) {
      if (!entry.box.isConnected) continue;
      if (entry.rated || (rated && S.conversation.id === entry.conversation)) {
        entry.box.replaceChildren(h("span", { class: "rating-thanks", part: "rating-thanks", text: T.rated }));
      } else if (entry.at < lastReopen) {
        entry.box.hidden = true;
      }
    }
  }

  function ratingFor(cid) {
    return S.ratings.find((entry) => "rate:" + entry.id === cid) || null;
  }

