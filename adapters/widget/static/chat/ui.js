  // ---- building the UI ----------------------------------------------------------------

  /** The panel, built into the loader's shadow root beside the bubble it drew. */
  function buildUi(config) {
    const { host, shadow, root, launcher, badge } = LOADER.shell;
    launcher.setAttribute("aria-controls", "pustaka-panel");
    launcher.setAttribute("aria-label", fill(T.open, config));
    root.dir = DIR; // Arabic mirrors the panel; the bubble keeps the side the library chose
    root.lang = LANG;

    const status = h("p", { part: "status", class: "status", id: "pustaka-status", "aria-live": "polite" });
    const titles = h("div", { class: "titles" },
      h("h2", { class: "title", id: "pustaka-title", text: config.library }), status);
    const header = h("div", { class: "header", part: "header" },
      config.logo ? h("img", { class: "logo", src: config.logo, alt: "", part: "logo" }) : null,
      titles,
      h("button", { type: "button", class: "close", part: "close", "aria-label": T.close,
        onclick: () => close() }, icon("close", 22)));

    const connection = h("div", { class: "connection", part: "connection", role: "status", hidden: true });
    const stored = h("div", { class: "stored" });
    const pending = h("div", { class: "pending-list" });
    const log = h("div", { class: "log", part: "log", role: "log", "aria-live": "polite",
      "aria-label": T.log, tabindex: "0" });
    if (config.greeting) {
      log.append(h("div", { class: "msg greeting", part: "greeting", "data-direction": "librarian" },
        h("div", { class: "bubble", text: config.greeting }),
        h("div", { class: "meta" }, h("span", { text: config.library }))));
    }
    const offlineNote = h("p", { class: "offline-note", part: "offline-note", hidden: true });
    const queue = h("p", { class: "queue", part: "queue", role: "status", hidden: true });
    const transcript = buildTranscript(); // transcript.js: under an ended conversation
    log.append(stored, pending, transcript.el, queue, offlineNote);
    const notice = h("p", { class: "notice", part: "notice", role: "alert", hidden: true });
    const offline = buildOfflineForm(config);

    const profile = buildProfile();
    const input = h("textarea", {
      part: "input", class: "input", rows: "1", placeholder: T.placeholder, "aria-label": T.input,
      "aria-describedby": "pustaka-hint", enterkeyhint: "send",
    });
    const send = h("button", { type: "button", part: "send", class: "send", "aria-label": T.send },
      icon("send", 18), h("span", { text: T.send }));
    const error = h("span", { class: "error", part: "error", role: "alert" });
    const counter = h("span", { class: "counter", part: "counter", "aria-live": "polite" });
    // Not a live region: the alert above says it once, a screen reader need not hear each second.
    const wait = h("span", { class: "wait", part: "wait" });
    const files = config.files.enabled;
    const picker = files ? h("input", { type: "file", multiple: true, hidden: true, part: "file-input",
      tabindex: "-1", "aria-hidden": "true" }) : null;
    const attach = files ? h("button", { type: "button", part: "attach", class: "attach",
      "aria-label": T.attach, title: T.attach, onclick: () => picker.click() }, icon("attach", 20)) : null;
    const tray = h("div", { class: "tray", part: "tray", role: "list", "aria-label": T.files });
    const composer = h("div", { class: "composer", part: "composer" }, tray,
      h("div", { class: "row" }, attach, picker, input, send),
      h("div", { class: "hint", id: "pustaka-hint" }, error, wait, counter));

    const panel = h("div", {
      part: "panel", class: "panel", id: "pustaka-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "pustaka-title", "aria-describedby": "pustaka-status", hidden: true,
    }, header, connection, notice, log, offline.el, profile.el, composer);

    root.insertBefore(panel, launcher);
    // Outside the panel: a screen reader hears what arrives while the chat is closed.
    const announcer = h("p", { class: "sr", part: "announcer", role: "status", "aria-live": "polite" });
    root.append(announcer);
    LOADER.addStyles(shadow, CSS);
    if (files) wireFiles(panel, input, picker);

    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      submit();
    });
    input.value = store.get(KEY_DRAFT) || "";
    input.addEventListener("input", () => {
      autoGrow();
      updateCounter();
      if (store.get(KEY_DRAFT) !== null) store.set(KEY_DRAFT, input.value);
    });
    send.addEventListener("click", () => { submit(); input.focus(); });
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.stopPropagation(); close(); }
    });

    launcher.removeAttribute("aria-busy");
    return { host, root, launcher, badge, panel, status, connection, log, stored, pending,
      input, send, error, counter, wait, profile, offline, offlineNote, notice, queue, tray, attach,
      announcer, transcript };
  }

  /** Files come from the picker, a drop anywhere on the panel, or a pasted image. */
  function wireFiles(panel, input, picker) {
    picker.addEventListener("change", () => {
      addFiles(picker.files);
      picker.value = ""; // choosing the same file again must fire "change" again
      input.focus();
    });
    const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
    panel.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      panel.classList.add("is-dragging");
    });
    panel.addEventListener("dragleave", (event) => {
      if (!panel.contains(event.relatedTarget)) panel.classList.remove("is-dragging");
    });
    panel.addEventListener("drop", (event) => {
      panel.classList.remove("is-dragging");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      addFiles(event.dataTransfer.files);
    });
    input.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      const images = Array.from(data?.files || []).filter((f) => f.type.startsWith("image/"));
      if (!images.length) return;
      if (!data.getData("text/plain")) event.preventDefault();
      addFiles(images);
    });
  }

  /** The form that takes the composer's place when nobody is at the desk. */
  function buildOfflineForm(config) {
    const saved = store.json(KEY_PROFILE, {}) || {};
    const field = (label, control) => h("label", {}, h("span", { text: label }), control);
    const name = h("input", { type: "text", name: "name", part: "offline-name", autocomplete: "name",
      maxlength: "200", required: true, value: typeof saved.name === "string" ? saved.name : "" });
    const email = h("input", { type: "email", name: "email", part: "offline-email", autocomplete: "email",
      maxlength: "200", required: true, value: typeof saved.email === "string" ? saved.email : "" });
    const question = h("textarea", { name: "question", part: "offline-question", rows: "4", required: true });
    const opens = h("p", { part: "offline-opens" });
    const error = h("p", { class: "form-error", part: "offline-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "send", part: "offline-send" },
      icon("send", 18), h("span", { text: T.sendQuestion }));
    const el = h("form", { class: "offline", part: "offline", novalidate: true, hidden: true },
      h("h3", { text: T.offlineTitle }), opens,
      h("p", { text: config.email === false ? T.offlineIntroChat : T.offlineIntro }),
      field(T.yourName, name), field(T.yourEmail, email), field(T.yourQuestion, question),
      error, submit);
    if (config.email === false) email.parentNode.hidden = true; // the answer comes only here
    el.addEventListener("submit", (event) => { event.preventDefault(); submitOffline(); });
    return { el, name, email, question, opens, error, submit, max: config.maxText };
  }

  function buildProfile() {
    const saved = store.json(KEY_PROFILE, {}) || {};
    const name = h("input", { type: "text", name: "name", autocomplete: "name", maxlength: "200",
      placeholder: T.name, "aria-label": T.name, value: typeof saved.name === "string" ? saved.name : "" });
    const email = h("input", { type: "email", name: "email", autocomplete: "email", maxlength: "200",
      placeholder: T.email, "aria-label": T.email, value: typeof saved.email === "string" ? saved.email : "" });
    const note = h("p", { class: "note", "aria-live": "polite" });
    const form = h("form", { novalidate: true }, name, email,
      h("button", { type: "submit", class: "small-btn", part: "profile-save", text: T.save }), note);
    form.addEventListener("submit", (event) => { event.preventDefault(); saveProfile(); });
    // The code mailed to a typed address: until it comes back the address routes nothing.
    const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
      maxlength: "20", placeholder: T.code, "aria-label": T.code });
    const codeForm = h("form", { novalidate: true, part: "profile-code", hidden: true }, code,
      h("button", { type: "submit", class: "small-btn", text: T.confirm }));
    codeForm.addEventListener("submit", (event) => { event.preventDefault(); sendCode(); });
    const el = h("details", { class: "profile", part: "profile" }, h("summary", { text: T.profile }),
      form, codeForm);
    return { el, name, email, note, code, codeForm };
  }

  function autoGrow() {
    const input = S.ui.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
  }

  function updateCounter() {
    const { counter, send } = S.ui;
    const max = S.config.maxText;
    const used = countChars(S.ui.input.value);
    const left = max - used;
    counter.classList.toggle("over", left < 0);
    send.disabled = left < 0 || waitingToSend();
    if (left < 0) counter.textContent = fill(T.over, { n: -left });
    else if (left <= Math.max(50, Math.round(max * 0.1))) counter.textContent = fill(T.left, { n: left });
    else counter.textContent = "";
    if (left >= 0 && S.ui.error.dataset.code === "too_long") showError("");
  }

  function showError(code, text = "") {
    const { error } = S.ui;
    error.dataset.code = code;
    error.textContent = code ? text || fill(T.errors[code] || T.errors.other, { max: S.config.maxText }) : "";
  }

  function showNotice(text) {
    S.ui.notice.textContent = text || "";
    S.ui.notice.hidden = !text;
  }

  function setConnectionBanner(text) {
    S.ui.connection.textContent = text || "";
    S.ui.connection.hidden = !text;
  }

  function setClaim(name) {
    S.claimedBy = name;
    S.ui.status.textContent = name ? fill(T.answering, { name }) : "";
  }

  function updateBadge() {
    const { badge, launcher } = S.ui;
    badge.hidden = S.unread === 0;
    badge.textContent = S.unread > 9 ? "9+" : String(S.unread);
    const label = fill(T.open, S.config);
    launcher.setAttribute("aria-label", S.unread ? `${label} (${fill(T.unread, { n: S.unread })})` : label);
  }

  /** Says a message that came while the chat is closed; the open log is a live region. */
  function announce(msg, el) {
    const text = msg.direction === "librarian" ? `${msg.author || S.config.library}: ${msg.text || ""}`
      : el.textContent;
    S.ui.announcer.textContent = text;
  }

  function nearBottom() {
    const log = S.ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd() {
    const log = S.ui.log;
    log.scrollTop = log.scrollHeight;
  }

  // ---- open / close -------------------------------------------------------------------

  function open({ focus = true } = {}) {
    if (!S.ui) { S.wantOpen = true; return; }
    const { panel, launcher, root, input } = S.ui;
    S.isOpen = true;
    panel.hidden = false;
    root.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    S.unread = 0;
    updateBadge();
    start();
    scrollToEnd();
    if (input.value) autoGrow(); // a draft kept from before a reload: show all its lines
    if (focus) requestAnimationFrame(() => focusTarget(input).focus());
  }

  /** The composer, or in the offline form its first field still to fill in. */
  function focusTarget(input) {
    const form = S.ui.offline;
    if (form.el.hidden) return input;
    return [form.name, form.email, form.question].find((el) => !el.value.trim()) || form.question;
  }

  function close() {
    if (!S.ui) { S.wantOpen = false; return; }
    const { panel, launcher, root } = S.ui;
    const hadFocus = S.ui.host.shadowRoot.activeElement !== null;
    S.isOpen = false;
    S.dismissed = true; // a greeting from the desk no longer opens it on this page
    panel.hidden = true;
    root.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    showNotice("");
    updateBadge();
    if (hadFocus) launcher.focus();
  }

