  // ---- the pre-chat form ([widget.prechat]) and the library's greeting line -------------
  // The offline form's fields, shaped by the library's settings: which fields show, which
  // are required, a member number and a choice of topic. After hours it is the offline
  // form; with show = "always" it also comes before a first chat while the desk is staffed,
  // and its answers then go with the first message (a `send` carrying `prechat`).

  const PRECHAT_FIELDS = ["name", "email", "member_number", "question", "topic"];
  const MEMBER_RE = /^[A-Za-z0-9]{1,32}$/;
  const PRECHAT_CSS = ".offline select { font: inherit; font-size: 14px; padding: 8px; border: 1px solid #9ca3af;"
    + " border-radius: 8px; background: #fff; color: #111827; }"
    + " .offline .optional { font-weight: 400; color: #6b7280; }"
    + " .library-line { margin: 8px 12px; padding: 8px 10px; border-radius: 8px; background: #f3f4f6;"
    + " color: #111827; font-size: 14px; }";

  /** The library's form as /widget/config says it; an older bridge: today's offline form. */
  function readPrechat(raw) {
    const p = raw && typeof raw === "object" ? raw : {};
    const names = (v, fallback) => (Array.isArray(v) ? v.filter((f) => PRECHAT_FIELDS.includes(f)) : fallback);
    const fields = names(p.fields, ["name", "email", "question"]);
    const topics = (Array.isArray(p.topics) ? p.topics : [])
      .filter((t) => t && typeof t.label === "string" && typeof t.tag === "string");
    return {
      show: ["always", "after_hours", "never"].includes(p.show) ? p.show : "after_hours",
      fields, required: names(p.required, ["name", "email", "question"]).filter((f) => fields.includes(f)),
      topics,
    };
  }

  const prechatOf = () => S.config.prechat || readPrechat(null);

  /** Whether the form takes the composer's place (an open conversation aside). */
  function prechatWanted(away) {
    const show = prechatOf().show;
    if (away) return show !== "never";
    // A first chat only: no conversation known, nothing in the log (an ack that came
    // after a reload shows the message without telling us of its conversation), and a
    // returning visitor's welcome heard first, so their chat does not flash the form.
    const known = S.everConnected || !store.get(KEY_TOKEN);
    return show === "always" && known && !S.prechatSent && !S.conversation && S.order.length === 0;
  }

  /** Fit the offline form to the library's settings (once), and title it for the hour. */
  function preparePrechat(away) {
    const form = S.ui.offline;
    if (!form.prechatBuilt) buildPrechat(form, prechatOf());
    form.el.querySelector("h3").textContent = away ? T.offlineTitle : T.prechatTitle;
    form.opens.nextElementSibling.textContent = !away ? T.prechatIntro
      : S.config.email === false ? T.offlineIntroChat : T.offlineIntro;
  }

  function buildPrechat(form, p) {
    form.prechatBuilt = true;
    const asks = (f) => p.fields.includes(f);
    const needs = (f) => p.required.includes(f);
    form.name.parentNode.hidden = !asks("name");
    if (!asks("email")) form.email.parentNode.hidden = true;
    for (const [el, f] of [[form.name, "name"], [form.email, "email"], [form.question, "question"]]) {
      el.required = needs(f);
      el.setAttribute("aria-required", String(needs(f)));
    }
    const label = (text, f, control) => h("label", {}, h("span", { text },
      needs(f) ? null : h("span", { class: "optional", text: " " + T.optional })), control);
    const before = form.question.parentNode;
    if (asks("member_number")) {
      form.member = h("input", { type: "text", name: "member_number", part: "prechat-member",
        autocomplete: "off", maxlength: "32", spellcheck: "false", "aria-required": String(needs("member_number")) });
      form.el.insertBefore(label(T.memberNumber, "member_number", form.member), before);
    }
    if (asks("topic")) {
      form.topic = h("select", { name: "topic", part: "prechat-topic", "aria-required": String(needs("topic")) },
        h("option", { value: "", text: T.chooseTopic }),
        ...p.topics.map((t) => h("option", { value: t.tag, text: t.label })));
      form.el.insertBefore(label(T.topic, "topic", form.topic), before);
    }
    LOADER.addStyles(S.ui.host.shadowRoot, PRECHAT_CSS);
  }

  function prechatAnswers() {
    const form = S.ui.offline;
    return { member_number: form.member ? form.member.value.trim() : "",
      topic: form.topic ? form.topic.value : "" };
  }

  /** What is missing or wrong, as [code, field], checked as the server checks it. */
  function prechatProblem(question, answers) {
    const form = S.ui.offline;
    const p = prechatOf();
    const needs = (f) => p.required.includes(f);
    return needs("name") && !question.name ? ["missing_name", form.name]
      : needs("email") && S.config.email !== false && !question.email ? ["missing_email", form.email]
      : question.email && !EMAIL_RE.test(question.email) ? ["bad_email", form.email]
      : needs("member_number") && !answers.member_number ? ["missing_member_number", form.member]
      : answers.member_number && !MEMBER_RE.test(answers.member_number) ? ["bad_member_number", form.member]
      : needs("topic") && !answers.topic ? ["missing_topic", form.topic] : null;
  }

  /** The desk is staffed: the answers go with the question as the first message. */
  function sendPrechat(question, answers) {
    const form = S.ui.offline;
    offlineRefused("");
    store.set(KEY_PROFILE, JSON.stringify({ name: question.name, email: question.email }));
    const item = { cid: question.cid, text: question.text, at: Date.now() / 1000,
      prechat: { name: question.name, email: question.email, ...answers } };
    S.prechatSent = true;
    outbox.add(item);
    showPending(item);
    form.question.value = "";
    applyMode();
    if (S.connected) sendItem(item);
    else if (S.started) reconnectNow();
    else start();
    requestAnimationFrame(() => S.ui.input.focus());
  }

  /** A `send`'s body: the text, and the pre-chat answers with the first message. */
  function sendBody(item) {
    const body = { cid: item.cid, text: item.text };
    return item.prechat ? { ...body, prechat: item.prechat } : body;
  }

  /** The ack of a first message said a code went to the typed address: ask for it. */
  function onPrechatProfile(profile) {
    if (!profile || !profile.code_sent || !S.ui) return;
    const { el, note, codeForm } = S.ui.profile;
    el.open = true;
    note.classList.remove("bad");
    note.textContent = fill(T.codeSent, { email: String(profile.email || "") });
    codeForm.hidden = false;
  }

  /** A greeting rule's words (LOADER.greeting, set by the loader), shown once as a line
      from the library: not a librarian's message, and nothing is sent anywhere. */
  function showLibraryLine() {
    const text = typeof LOADER.greeting === "string" ? LOADER.greeting.trim() : "";
    if (!text || !S.ui) return;
    LOADER.greeting = "";
    const line = h("p", { class: "library-line", part: "library-line", "data-direction": "system", text });
    S.ui.log.insertBefore(line, S.ui.stored);
  }
  LOADER.libraryLine = showLibraryLine;

