  // ---- "Email me this chat" ---------------------------------------------------------------
  // Under an ended conversation when the library sends mail, over the socket or the HTTP
  // fallback (POST /widget/api/transcript). A refusal shows the server's sentence as it is, but
  // "no confirmed address" (reason no_email) in the patron's words, with the way to
  // confirm one; the frame's cid only brings a refusal back here, as a rating's does.

  const TX = { conversation: "", waiting: false, sent: false, off: false, timer: 0 };
  const TX_CID = "transcript:";

  function buildTranscript() {
    const button = h("button", { type: "button", class: "small-btn", part: "transcript-send",
      text: T.transcriptAsk, onclick: () => requestTranscript() });
    const note = h("p", { class: "transcript-note", part: "transcript-note", role: "status",
      "aria-live": "polite" });
    const offer = h("button", { type: "button", class: "small-btn", part: "transcript-add-email",
      text: T.transcriptAddEmail, hidden: true, onclick: () => openProfileForEmail() });
    const el = h("div", { class: "transcript", part: "transcript", hidden: true }, button, note, offer);
    return { el, button, note, offer };
  }

  /** Shown under an ended conversation; a conversation ended anew gets a fresh button. */
  function refreshTranscript() {
    if (!S.ui) return;
    const c = S.conversation;
    const ended = Boolean(c && c.id && c.status === "closed");
    const stick = nearBottom();
    S.ui.transcript.el.hidden = !(ended && S.config.email && !TX.off);
    if (stick) scrollToEnd();
    if (!ended || c.id === TX.conversation) return;
    clearTimeout(TX.timer);
    Object.assign(TX, { conversation: c.id, waiting: false, sent: false });
    transcriptNote("", { busy: false });
  }

  function requestTranscript() {
    if (TX.waiting || TX.sent || !TX.conversation) return;
    if (!S.connected) return transcriptNote(T.errors.not_sent, { busy: false });
    TX.waiting = true;
    transcriptNote(T.transcriptWaiting, { busy: true });
    const frame = { cid: TX_CID + TX.conversation, conversation: TX.conversation };
    if (S.transport !== "ws") return httpTranscript(frame);
    sendFrame({ type: "transcript", ...frame });
    clearTimeout(TX.timer); // a socket that dropped meanwhile never answers: press again
    TX.timer = setTimeout(() => transcriptRefused({ code: "not_sent" }), ACK_TIMEOUT);
  }

  /** The same request over the HTTP fallback; its answer is the socket's frame. */
  function httpTranscript(frame) {
    http("POST", "/widget/api/transcript", frame).then((reply) => {
      const data = reply.data || {};
      if (reply.ok && data.type === "transcript_sent") return onTranscriptSent(data);
      if (reply.status === 401) {
        transcriptRefused({ code: "not_sent" });
        return forgetIdentity();
      }
      transcriptRefused(data.type === "error" ? data : { code: "not_sent" });
    }, () => transcriptRefused({ code: "not_sent" }));
  }

  function onTranscriptSent(frame) {
    if (frame.conversation !== TX.conversation) return;
    clearTimeout(TX.timer);
    Object.assign(TX, { waiting: false, sent: true });
    transcriptNote(fill(T.transcriptSent, { email: String(frame.email || "") }), { busy: true });
  }

  /** The server's sentence when it gave one (not ended, no confirmed address, already sent
      today); a library that sends no mail (bad_frame, email_off over HTTP) takes the
      button away. */
  function transcriptRefused(frame) {
    clearTimeout(TX.timer);
    TX.waiting = false;
    const code = typeof frame.code === "string" ? frame.code : "other";
    if (code === "bad_frame" || code === "email_off") {
      TX.off = true;
      return refreshTranscript();
    }
    const said = typeof frame.message === "string" && frame.message.trim() ? frame.message : "";
    // No confirmed address: said in the patron's language, with the way to confirm one.
    const noEmail = frame.reason === "no_email";
    const text = noEmail ? T.transcriptNoEmail : code === "not_sent" ? T.errors.not_sent
      : said || T.errors.other;
    transcriptNote(text, { busy: false, bad: true });
    S.ui.transcript.offer.hidden = !noEmail;
    scrollToEnd();
  }

  function transcriptNote(text, { busy, bad = false }) {
    const { button, note, offer } = S.ui.transcript;
    button.disabled = busy;
    note.classList.toggle("bad", bad);
    note.textContent = text;
    offer.hidden = true;
    if (text) scrollToEnd(); // the patron just pressed the button: show what it did
  }

  /** The name / email form below the log, opened at the address field. */
  function openProfileForEmail() {
    const { el, email } = S.ui.profile;
    el.open = true;
    email.focus();
  }

  /** An address proved (or found already proved): the offer has done its work. */
  function transcriptAddressConfirmed() {
    if (!S.ui || S.ui.transcript.offer.hidden) return;
    transcriptNote(T.emailConfirmed, { busy: TX.waiting || TX.sent });
  }

