/*
 * Pustaka Bridge chat widget: the patron's side of PROTOCOL.md (v1).
 * Plain ES2020, no build step, no dependencies. Embed with one tag:
 *   <script src="https://chat.library.example/widget.js" async></script>
 *
 * Why it is built the way it is:
 * - Everything lives in one open shadow root, so the library's CSS cannot break it.
 * - Every text from the server, the config or the patron becomes a text node; links are
 *   <a> elements built by hand with an http(s) href. Nothing is ever parsed as HTML.
 * - A patron's message is kept in localStorage until the server acknowledges it and is
 *   resent with the same `cid` after any reconnect or reload; the server dedupes.
 * - When nobody is at the desk, an offline form (name, email, question) takes the
 *   composer's place; an email link ending in `#pustaka=<resume token>` brings the patron
 *   back to their conversation in any browser, and the fragment is removed at once.
 * - Files go up in one multipart POST per message (an album of up to ten); they live in
 *   memory only, so a text sent after them waits until they are stored, keeping order.
 *   Files come down through links the server signed for this visitor; only a file the
 *   server read as an image is shown inline.
 * - An edited reply changes its bubble in place; a withdrawn one leaves only a line
 *   saying so (as the messengers patrons know do), both live and from history.
 */
(() => {
  "use strict";

  // document.currentScript only exists while this file first runs, so capture it now.
  const SCRIPT = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!SCRIPT || (window.PustakaChat && window.PustakaChat.version)) return; // embedded twice

  const SRC = new URL(SCRIPT.src, location.href);
  const BASE = SRC.origin + SRC.pathname.replace(/\/widget\.js$/, "").replace(/\/$/, "");
  const WS_URL = BASE.replace(/^http/, "ws") + "/widget/ws";
  const KEY_TOKEN = "pustaka.token";
  const KEY_PENDING = "pustaka.pending";
  const KEY_PROFILE = "pustaka.profile";
  const KEY_DRAFT = "pustaka.draft"; // what a rate limit gave back, kept across a reload
  const KEY_SENDABLE = "pustaka.sendable_at"; // and when the server lets this visitor send
  const KEY_HTTP_ONLY = "pustaka.http-until"; // sessionStorage: WebSockets are blocked here
  const PING_EVERY = 25000;
  const CONNECT_TIMEOUT = 10000;
  const ACK_TIMEOUT = 20000;
  const WS_FAILURES_BEFORE_HTTP = 3;
  const POLL_WAIT = 25;
  const MAX_COMMENT = 1000;
  const EMAIL_RE = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\.]+(\.[^\s@<>()[\],;:"\\.]+)+$/;

  /** Take `pustaka=<token>` out of the address bar before anything else can read it. */
  function takeResumeToken() {
    const hash = location.hash.replace(/^#/, "");
    const parts = hash.split("&");
    const found = parts.find((p) => p.startsWith("pustaka="));
    if (!found) return null;
    const rest = parts.filter((p) => p && !p.startsWith("pustaka=")).join("&");
    try {
      history.replaceState(history.state, "", location.pathname + location.search + (rest ? "#" + rest : ""));
    } catch { /* sandboxed frame: the token still works, it just stays visible */ }
    try { return decodeURIComponent(found.slice(8)); } catch { return found.slice(8); }
  }

  const RESUME = takeResumeToken();

  // ---- texts ------------------------------------------------------------------------

  const TEXTS = {
    en: {
      open: "Chat with {library}", close: "Close chat", chat: "Chat",
      log: "Conversation", input: "Your message", placeholder: "Type your message…",
      send: "Send", connecting: "Connecting…", reconnecting: "Reconnecting…",
      answering: "{name} is answering", sending: "Sending…",
      failed: "Not sent — tap to retry", you: "You", unread: "{n} new",
      sendAgainIn: "You can send again in {n} s.",
      left: "{n} characters left", over: "{n} characters over the limit",
      profile: "Your name / email (optional)", name: "Your name", email: "Email",
      save: "Save", saved: "Saved",
      offlineTitle: "Nobody is at the desk right now",
      offlineIntro: "Leave your question and we will answer by email.",
      yourName: "Your name", yourEmail: "Your email", yourQuestion: "Your question",
      sendQuestion: "Send question", offlineSent: "We have your question. The answer comes by email to {email} and here.",
      afterHours: "Nobody is at the desk right now. The answer will appear here.",
      offlineIntroChat: "Leave your question; the answer appears here in this chat when you come back.",
      offlineSentChat: "We have your question. The answer appears here in this chat; come back to this page.",
      codeSent: "We sent a code to {email}. Type it here to confirm the address.",
      code: "Code", confirm: "Confirm", emailConfirmed: "Email confirmed",
      closed: "This conversation was closed.", reopened: "The conversation is open again.",
      rateAsk: "How did we do? Rate this conversation.", star: "{n} of 5 stars",
      rateComment: "Comment (optional)", rateSend: "Send rating", rated: "Thank you for your rating!",
      resumeBad: "This link has expired or is not valid. You can still write to us here.",
      attach: "Attach a file", removeFile: "Remove {name}", uploading: "Uploading… {p}%",
      files: "Files to send",
      edited: "(edited)", withdrawn: "This message was withdrawn by the library.",
      queue: "You are number {n} in the queue, about {m} minutes.",
      openImage: "Open image {name}", download: "Download {name}",
      errors: {
        missing_name: "Please tell us your name.",
        missing_email: "Please give your email address, so we can answer you.",
        bad_name: "The name may not contain line breaks.",
        desk_open: "Someone is at the desk now: write your question in the chat.",
        bad_code: "That code is not right or has expired; save your email again for a new one.",
        not_yours: "This conversation cannot be rated from here.",
        rating_refused: "This conversation cannot be rated now.",
        bad_rating: "Choose from 1 to 5 stars.",
        comment_long: "The comment can be at most {max} characters.",
        not_sent: "Not sent yet. Please try again.",
        too_long: "Your message is too long (at most {max} characters).",
        empty: "Write something before sending.",
        too_big: "That message is too large to send.",
        rate_limited: "You are sending messages too fast. Your message is kept.",
        bad_frame: "That message could not be sent. Please try again.",
        internal: "Something went wrong on our side. Please try again.",
        bad_email: "That email address does not look right.",
        too_long_profile: "Name and email can be at most 200 characters.",
        file_too_big: "“{file}” is larger than the {limit} limit.",
        file_type: "“{file}” is a type of file we do not accept.",
        empty_file: "“{file}” is empty.",
        too_many_files: "At most {n} files can be sent at once.",
        files_off: "Files cannot be sent here.",
        no_files: "Choose a file to send.",
        bad_upload: "The files could not be sent. Please try again.",
        busy: "The library is receiving many files just now. Please try again in a moment.",
        too_slow: "Sending the files took too long. Please try again.",
        other: "Something went wrong. Please try again.",
      },
    },
    id: {
      open: "Chat dengan {library}", close: "Tutup chat", chat: "Chat",
      log: "Percakapan", input: "Pesan Anda", placeholder: "Tulis pesan Anda…",
      send: "Kirim", connecting: "Menghubungkan…", reconnecting: "Menghubungkan ulang…",
      answering: "{name} sedang menjawab", sending: "Mengirim…",
      failed: "Belum terkirim — ketuk untuk mencoba lagi", you: "Anda", unread: "{n} baru",
      sendAgainIn: "Anda bisa mengirim lagi dalam {n} detik.",
      left: "Sisa {n} karakter", over: "Kelebihan {n} karakter",
      profile: "Nama / email Anda (opsional)", name: "Nama Anda", email: "Email",
      save: "Simpan", saved: "Tersimpan",
      offlineTitle: "Saat ini tidak ada pustakawan yang bertugas",
      offlineIntro: "Tinggalkan pertanyaan Anda, kami akan menjawab lewat email.",
      yourName: "Nama Anda", yourEmail: "Email Anda", yourQuestion: "Pertanyaan Anda",
      sendQuestion: "Kirim pertanyaan", offlineSent: "Pertanyaan Anda sudah kami terima. Jawabannya dikirim lewat email ke {email} dan di sini.",
      afterHours: "Saat ini tidak ada pustakawan yang bertugas. Jawabannya akan muncul di sini.",
      offlineIntroChat: "Tinggalkan pertanyaan Anda; jawabannya muncul di obrolan ini saat Anda kembali.",
      offlineSentChat: "Pertanyaan Anda sudah kami terima. Jawabannya muncul di obrolan ini; kembalilah ke halaman ini.",
      codeSent: "Kami mengirim kode ke {email}. Ketik kode itu di sini untuk mengonfirmasi alamat.",
      code: "Kode", confirm: "Konfirmasi", emailConfirmed: "Email terkonfirmasi",
      closed: "Percakapan ini telah ditutup.", reopened: "Percakapan dibuka kembali.",
      rateAsk: "Bagaimana layanan kami? Beri nilai percakapan ini.", star: "{n} dari 5 bintang",
      rateComment: "Komentar (opsional)", rateSend: "Kirim penilaian", rated: "Terima kasih atas penilaian Anda!",
      resumeBad: "Tautan ini sudah kedaluwarsa atau tidak berlaku. Anda tetap dapat menulis kepada kami di sini.",
      attach: "Lampirkan berkas", removeFile: "Hapus {name}", uploading: "Mengunggah… {p}%",
      files: "Berkas yang akan dikirim",
      edited: "(diedit)", withdrawn: "Pesan ini ditarik oleh perpustakaan.",
      queue: "Anda nomor {n} dalam antrean, sekitar {m} menit.",
      openImage: "Buka gambar {name}", download: "Unduh {name}",
      errors: {
        missing_name: "Mohon tuliskan nama Anda.",
        missing_email: "Mohon tuliskan alamat email Anda agar kami dapat menjawab.",
        bad_name: "Nama tidak boleh berisi baris baru.",
        desk_open: "Pustakawan sedang bertugas: tulis pertanyaan Anda di obrolan.",
        bad_code: "Kode tidak benar atau sudah kedaluwarsa; simpan email Anda lagi untuk kode baru.",
        not_yours: "Percakapan ini tidak dapat dinilai dari sini.",
        rating_refused: "Percakapan ini belum dapat dinilai.",
        bad_rating: "Pilih 1 sampai 5 bintang.",
        comment_long: "Komentar maksimal {max} karakter.",
        not_sent: "Belum terkirim. Silakan coba lagi.",
        too_long: "Pesan Anda terlalu panjang (maksimal {max} karakter).",
        empty: "Tulis sesuatu sebelum mengirim.",
        too_big: "Pesan terlalu besar untuk dikirim.",
        rate_limited: "Anda mengirim pesan terlalu cepat. Pesan Anda tetap tersimpan.",
        bad_frame: "Pesan tidak dapat dikirim. Silakan coba lagi.",
        internal: "Terjadi kesalahan di pihak kami. Silakan coba lagi.",
        bad_email: "Alamat email tampaknya tidak benar.",
        too_long_profile: "Nama dan email maksimal 200 karakter.",
        file_too_big: "“{file}” melebihi batas {limit}.",
        file_type: "“{file}” adalah jenis berkas yang tidak kami terima.",
        empty_file: "“{file}” kosong.",
        too_many_files: "Paling banyak {n} berkas sekali kirim.",
        files_off: "Berkas tidak dapat dikirim di sini.",
        no_files: "Pilih berkas yang akan dikirim.",
        bad_upload: "Berkas tidak dapat dikirim. Silakan coba lagi.",
        busy: "Perpustakaan sedang menerima banyak berkas. Silakan coba lagi sebentar lagi.",
        too_slow: "Pengiriman berkas terlalu lama. Silakan coba lagi.",
        other: "Terjadi kesalahan. Silakan coba lagi.",
      },
    },
  };

  function pickLanguage() {
    const wanted = [SCRIPT.dataset.lang, ...(navigator.languages || []), navigator.language];
    for (const tag of wanted) {
      const primary = String(tag || "").toLowerCase().split(/[-_]/)[0];
      if (primary === "in") return "id"; // the old code for Indonesian, still sent by some
      if (primary in TEXTS) return primary;
    }
    return "en";
  }

  const LANG = pickLanguage();
  const T = TEXTS[LANG];
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));

  // ---- storage: blocked or full storage must never break the chat ----------------------

  const store = {
    get(key, area = "localStorage") {
      try { return window[area].getItem(key); } catch { return null; }
    },
    set(key, value, area = "localStorage") {
      try { window[area].setItem(key, value); } catch { /* blocked or full: keep going */ }
    },
    del(key) {
      try { localStorage.removeItem(key); } catch { /* blocked: nothing to remove */ }
    },
    json(key, fallback) {
      try { return JSON.parse(this.get(key)) ?? fallback; } catch { return fallback; }
    },
  };

  /* The outbox is shared by every tab of the site through localStorage, so each change
     re-reads it: one tab must not wipe another tab's unsent messages. */
  const outbox = {
    items: [],
    read() {
      const raw = store.json(KEY_PENDING, []);
      return Array.isArray(raw)
        ? raw.filter((x) => x && typeof x.cid === "string" && typeof x.text === "string")
        : [];
    },
    load() { this.items = this.read(); },
    add(item) {
      this.items.push(item);
      const all = this.read().filter((x) => x.cid !== item.cid);
      const { cid, text, at } = item; // the live item later carries its DOM elements
      store.set(KEY_PENDING, JSON.stringify([...all, { cid, text, at }]));
    },
    /** Files cannot live in localStorage: a message with files stays in this tab only. */
    addLive(item) { this.items.push(item); },
    remove(cid) {
      this.items = this.items.filter((x) => x.cid !== cid);
      store.set(KEY_PENDING, JSON.stringify(this.read().filter((x) => x.cid !== cid)));
    },
    get(cid) { return this.items.find((x) => x.cid === cid); },
  };

  function newCid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- small DOM helpers: text only, never HTML --------------------------------------

  function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child != null) el.append(child); // strings → text nodes
    return el;
  }

  const ICONS = {
    chat: "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM6 9h12v2H6V9zm8 5H6v-2h8v2zm4-6H6V6h12v2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    send: "M3.4 20.4 20.85 12.92a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z",
    attach: "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6h-1.5z",
    file: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8l-6-6zm4 18H6V4h7v5h5v11z",
  };

  function icon(name, size = 24) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", size);
    svg.setAttribute("height", size);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  function safeHref(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  // A URL ends before trailing punctuation, except a ")" that closes a "(" inside it.
  function trimUrl(url) {
    for (;;) {
      const last = url.slice(-1);
      if (/[.,;:!?'"\]}>]/.test(last)) url = url.slice(0, -1);
      else if (last === ")" && url.split("(").length < url.split(")").length) url = url.slice(0, -1);
      else return url;
    }
  }

  /** Plain text with http(s) URLs as links; newlines are kept by CSS (pre-wrap). */
  function richText(text) {
    const frag = document.createDocumentFragment();
    let done = 0;
    for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"'`]+/gi)) {
      const url = trimUrl(match[0]);
      const href = safeHref(url);
      if (!href || match.index < done) continue;
      frag.append(text.slice(done, match.index));
      frag.append(h("a", { href, target: "_blank", rel: "noopener noreferrer", text: url }));
      done = match.index + url.length;
    }
    frag.append(text.slice(done));
    return frag;
  }

  function formatTime(at) {
    const date = new Date(at * 1000);
    if (!Number.isFinite(date.getTime())) return "";
    const today = date.toDateString() === new Date().toDateString();
    const options = today
      ? { hour: "2-digit", minute: "2-digit" }
      : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(LANG, options).format(date);
    } catch {
      return date.toLocaleTimeString();
    }
  }

  const countChars = (text) => Array.from(text.replace(/\r\n/g, "\n").trim()).length;

  /** "512 bytes", "12 KB", "1.5 MB": the server's own wording of sizes (adapters/files.py). */
  function humanSize(size) {
    const n = Number(size) || 0;
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " bytes";
  }

  // ---- config -------------------------------------------------------------------------

  /** Brand colour plus a text colour on it with enough contrast (WCAG AA if possible). */
  function brandColours(raw) {
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(raw) ? raw : "#0b5394";
    const full = hex.length === 4 ? "#" + [...hex.slice(1)].map((c) => c + c).join("") : hex;
    const channel = (i) => {
      const c = parseInt(full.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const lum = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    const onWhite = 1.05 / (lum + 0.05);
    const onDark = (lum + 0.05) / (0.0103 + 0.05); // #1a1a2e-ish near-black
    return { brand: full, on: onWhite >= 4.5 || onWhite >= onDark ? "#ffffff" : "#111827" };
  }

  function readConfig(raw) {
    const c = raw && typeof raw === "object" ? raw : {};
    const text = (v, fallback = "") => (typeof v === "string" ? v : fallback);
    const greetings = c.greeting && typeof c.greeting === "object" ? c.greeting : {};
    const greeting = [greetings[LANG], greetings.en, ...Object.values(greetings)]
      .find((g) => typeof g === "string" && g.trim()) || "";
    const max = Number(c.max_text);
    return {
      availability: readAvailability(c.availability),
      library: text(c.library).trim() || "Library",
      colours: brandColours(text(c.colour)),
      position: c.position === "left" ? "left" : "right",
      logo: c.logo ? safeHref(text(c.logo)) : null,
      greeting,
      maxText: Number.isInteger(max) && max > 0 ? max : 4000,
      files: readFiles(c.files),
    };
  }

  /** What the bridge takes: files off unless it says so (an older bridge has no uploads). */
  function readFiles(raw) {
    const f = raw && typeof raw === "object" ? raw : {};
    const maxBytes = Number(f.max_bytes);
    const maxFiles = Number(f.max_files);
    return {
      enabled: f.enabled === true,
      maxBytes: Number.isInteger(maxBytes) && maxBytes > 0 ? maxBytes : 20 * 1048576,
      maxFiles: Number.isInteger(maxFiles) && maxFiles > 0 ? maxFiles : 10,
    };
  }

  /** Whether someone is at the desk; a missing or odd answer means yes (the chat). */
  function readAvailability(raw) {
    const a = raw && typeof raw === "object" ? raw : {};
    const opens = a.opens && typeof a.opens === "object" ? a.opens : {};
    const text = [opens[LANG], opens.en].find((t) => typeof t === "string" && t.trim()) || "";
    return { staffed: a.staffed !== false, opens: text };
  }

  // ---- state --------------------------------------------------------------------------

  const S = {
    config: null,
    ui: null,
    started: false,
    wantOpen: SCRIPT.dataset.open === "true",
    isOpen: false,
    unread: 0,
    transport: "ws",
    connected: false,
    everConnected: false,
    wsEverWelcomed: false,
    wsFailures: 0,
    attempt: 0,
    ws: null,
    retryTimer: 0,
    pingTimer: 0,
    awaitingPong: false,
    httpGen: 0,
    httpQueue: [],
    httpSending: false,
    messages: new Map(), // id → element
    order: [], // {id, at, el} in display order
    lastId: null,
    lastAt: -Infinity,
    ackTimers: new Map(), // cid → timer
    profileQueued: null, // saved by the patron, not yet sent
    profileSent: null, // sent, not yet confirmed by profile_saved
    profileWaiting: 0, // profile sends without an answer yet
    claimedBy: "",
    booted: false,
    availability: { staffed: true, opens: "" },
    conversation: null, // {id, status, rating} as the server last told us
    offline: null, // the offline form sent, not yet saved: {cid, name, email, text}
    offlineTimer: 0,
    sendableAt: 0, // Date.now() before which the server refuses sends (rate limit)
    waitTimer: 0,
    offlineLast: null, // the last form sent, to reuse its cid when pressed again
    offlineEmail: "", // where the answer to an after-hours question goes
    ratings: [], // {id, at, conversation, el, parts}: the rating forms shown
    tray: [], // {file, preview}: files chosen, not yet sent
    queue: null, // the last `queue` frame with a place in it
  };

  // ---- styles -------------------------------------------------------------------------

  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.45; color: #1f2937;
  -webkit-font-smoothing: antialiased;
}
button, input, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.launcher {
  position: fixed; bottom: 20px; z-index: 2147483000;
  width: 60px; height: 60px; border-radius: 50%; border: 0; cursor: pointer;
  background: var(--brand); color: var(--on-brand);
  display: grid; place-items: center;
  box-shadow: 0 6px 20px rgba(15, 23, 42, .25), 0 2px 6px rgba(15, 23, 42, .15);
  transition: transform .15s ease, box-shadow .15s ease;
}
.launcher:hover { transform: translateY(-2px); box-shadow: 0 10px 26px rgba(15, 23, 42, .28); }
.side-right .launcher { right: 20px; } .side-left .launcher { left: 20px; }
.badge {
  position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: #dc2626; color: #fff; font-size: 12px; font-weight: 700;
  line-height: 22px; text-align: center; border: 2px solid #fff;
}
.panel {
  position: fixed; bottom: 92px; z-index: 2147483001;
  width: 380px; height: min(620px, calc(100vh - 120px)); max-height: calc(100vh - 120px);
  display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 16px; border: 1px solid rgba(15, 23, 42, .08);
  box-shadow: 0 18px 50px rgba(15, 23, 42, .22), 0 4px 12px rgba(15, 23, 42, .08);
  animation: pop-in .18s ease-out;
}
.side-right .panel { right: 20px; } .side-left .panel { left: 20px; }
@keyframes pop-in { from { opacity: 0; transform: translateY(12px) scale(.98); } }
.header {
  display: flex; align-items: center; gap: 12px; padding: 14px 12px 14px 16px;
  background: var(--brand); color: var(--on-brand); --focus: var(--on-brand);
}
.logo { width: 40px; height: 40px; border-radius: 10px; object-fit: contain; background: #fff; padding: 3px; flex: none; }
.titles { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 16px; font-weight: 650; line-height: 1.25; overflow-wrap: anywhere; }
.status { margin: 2px 0 0; font-size: 13px; opacity: .92; }
.status:empty { display: none; }
.close {
  flex: none; width: 38px; height: 38px; border: 0; border-radius: 10px; cursor: pointer;
  background: transparent; color: inherit; display: grid; place-items: center;
}
.close:hover { background: rgba(255, 255, 255, .16); }
.connection {
  padding: 6px 16px; font-size: 13px; background: #fef3c7; color: #78350f;
  border-bottom: 1px solid #fde68a;
}
.log {
  flex: 1; overflow-y: auto; padding: 16px 14px 8px; background: #f6f7f9;
  display: flex; flex-direction: column; gap: 12px; overscroll-behavior: contain;
}
.stored, .pending-list { display: flex; flex-direction: column; gap: 12px; }
.pending-list:empty { display: none; }
.msg { display: flex; flex-direction: column; align-items: flex-start; max-width: 85%; }
.msg[data-direction="patron"] { align-self: flex-end; align-items: flex-end; }
.bubble {
  order: 1; padding: 9px 13px; border-radius: 16px; border-bottom-left-radius: 5px;
  background: #fff; border: 1px solid #e5e7eb; color: #1f2937;
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}
.msg[data-direction="patron"] .bubble {
  background: var(--brand); color: var(--on-brand); border-color: transparent;
  border-radius: 16px; border-bottom-right-radius: 5px;
}
.bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }
.msg[data-direction="patron"] .bubble a { --focus: var(--on-brand); }
.meta { order: 2; margin: 3px 4px 0; font-size: 12px; color: #6b7280; display: flex; gap: 6px; flex-wrap: wrap; }
.meta time::before { content: "·"; margin-right: 6px; }
.greeting .bubble { background: #fff; }
.is-pending .bubble { opacity: .78; }
.delivery { color: #6b7280; }
.retry {
  border: 0; background: none; padding: 0; cursor: pointer; color: #b91c1c;
  font-size: 12px; text-decoration: underline; text-underline-offset: 2px;
}
.msg[data-direction="system"] { align-self: center; max-width: 100%; }
.system-text {
  font-size: 13px; color: #4b5563; background: #eceef2; padding: 4px 12px; border-radius: 999px;
  text-align: center; white-space: pre-wrap; overflow-wrap: anywhere;
}
.profile { border-top: 1px solid #eceef2; font-size: 13px; background: #fff; }
.profile summary { cursor: pointer; padding: 8px 16px; color: #4b5563; list-style-position: inside; }
.profile form { display: grid; grid-template-columns: 1fr 1fr auto; gap: 6px; padding: 0 12px 10px; }
.profile input {
  min-width: 0; padding: 7px 9px; border: 1px solid #d1d5db; border-radius: 8px; background: #fff; font-size: 14px;
}
.profile input:focus { border-color: var(--brand-text); outline: none; box-shadow: 0 0 0 3px var(--ring); }
.profile .note { grid-column: 1 / -1; margin: 0; font-size: 12px; color: #6b7280; min-height: 0; }
.profile .note.bad { color: #b91c1c; }
.small-btn {
  padding: 7px 12px; border-radius: 8px; border: 1px solid; cursor: pointer;
  background: #fff; color: var(--brand-text); font-weight: 600; font-size: 13px;
  border-color: var(--brand-text);
}
.composer { border-top: 1px solid #e5e7eb; padding: 10px 12px 12px; background: #fff; }
.row { display: flex; align-items: flex-end; gap: 8px; }
.input {
  flex: 1; resize: none; min-height: 44px; max-height: 140px; padding: 10px 12px;
  border: 1px solid #d1d5db; border-radius: 12px; background: #fff; line-height: 1.4;
  font-size: 15px; white-space: pre-wrap;
}
.input:focus { border-color: var(--brand-text); outline: none; box-shadow: 0 0 0 3px var(--ring); }
.send {
  flex: none; height: 44px; padding: 0 16px; border: 0; border-radius: 12px; cursor: pointer;
  background: var(--brand); color: var(--on-brand); font-weight: 650;
  display: inline-flex; align-items: center; gap: 6px;
}
.send:disabled { opacity: .5; cursor: not-allowed; }
.hint { display: flex; gap: 8px; justify-content: space-between; font-size: 12.5px; margin-top: 6px; }
.hint:empty, .error:empty, .counter:empty { display: none; }
.error { color: #b91c1c; }
.counter { color: #6b7280; margin-left: auto; white-space: nowrap; }
.wait { color: #6b7280; white-space: nowrap; font-variant-numeric: tabular-nums; }
.wait:empty { display: none; }
.counter.over { color: #b91c1c; font-weight: 600; }
.notice {
  margin: 0; padding: 8px 16px; font-size: 13.5px; background: #fee2e2; color: #7f1d1d;
  border-bottom: 1px solid #fecaca;
}
.offline-note {
  align-self: stretch; margin: 0; padding: 8px 12px; font-size: 13px; color: #1e3a5f;
  background: #e8f0fb; border-radius: 10px;
}
.offline { flex: 1; overflow-y: auto; padding: 16px; background: #fff; display: flex; flex-direction: column; gap: 10px; }
.is-offline .log:not(.has-history) { display: none; }
.is-offline .log.has-history { flex: 1 1 40%; }
.is-offline .composer, .is-offline .profile { display: none; }
.offline h3 { margin: 0; font-size: 15.5px; font-weight: 650; color: #111827; }
.offline p { margin: 0; font-size: 14px; color: #374151; }
.offline label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; font-weight: 600; color: #374151; }
.offline input, .offline textarea, .rating textarea {
  padding: 8px 10px; border: 1px solid #d1d5db; border-radius: 10px; background: #fff; font-size: 15px; font-weight: 400;
}
.offline textarea { min-height: 90px; resize: vertical; }
.offline [aria-invalid="true"] { border-color: #b91c1c; }
.offline input:focus, .offline textarea:focus, .rating textarea:focus {
  border-color: var(--brand-text); outline: none; box-shadow: 0 0 0 3px var(--ring);
}
.offline .send { align-self: flex-end; }
.form-error { color: #b91c1c; font-size: 13px; }
.form-error:empty { display: none; }
.rating { display: flex; flex-direction: column; align-items: center; gap: 8px; margin-top: 6px; width: 100%; }
.stars { display: flex; gap: 4px; }
.star {
  width: 38px; height: 38px; border: 1px solid #d1d5db; border-radius: 10px; background: #fff;
  cursor: pointer; font-size: 22px; line-height: 1; color: #9ca3af; display: grid; place-items: center;
}
.star.on { color: #b45309; border-color: #f59e0b; background: #fffbeb; }
.rating textarea { width: 100%; min-height: 56px; resize: vertical; font-size: 14px; }
.rating .small-btn:disabled { opacity: .5; cursor: not-allowed; }
.rating-thanks { font-size: 13.5px; color: #065f46; }
.attach {
  flex: none; width: 44px; height: 44px; border: 1px solid #d1d5db; border-radius: 12px; cursor: pointer;
  background: #fff; color: var(--brand-text); display: grid; place-items: center;
}
.attach:disabled { opacity: .5; cursor: not-allowed; }
.tray { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.tray:empty { display: none; }
.chip {
  display: inline-flex; align-items: center; gap: 6px; max-width: 100%; padding: 4px 4px 4px 8px;
  border: 1px solid #d1d5db; border-radius: 10px; background: #f9fafb; font-size: 13px;
}
.chip img { width: 32px; height: 32px; object-fit: cover; border-radius: 6px; }
.chip-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 160px; }
.chip-size { color: #6b7280; white-space: nowrap; }
.chip-remove {
  width: 26px; height: 26px; border: 0; border-radius: 8px; background: transparent; cursor: pointer;
  display: grid; place-items: center; color: #4b5563;
}
.chip-remove:hover { background: #e5e7eb; }
.panel.is-dragging { outline: 3px dashed var(--brand-text); outline-offset: -6px; }
.files { order: 0; display: flex; flex-direction: column; gap: 6px; margin-bottom: 4px; }
.files:empty { display: none; }
.msg[data-direction="patron"] .files { align-items: flex-end; }
.thumb { display: block; max-width: 220px; max-height: 220px; border-radius: 12px; border: 1px solid #e5e7eb; background: #fff; }
.file {
  display: inline-flex; align-items: center; gap: 8px; padding: 8px 12px; border-radius: 12px;
  background: #fff; border: 1px solid #e5e7eb; color: #1f2937; text-decoration: none; max-width: 100%;
}
.file:hover .file-name { text-decoration: underline; }
.file-name { overflow-wrap: anywhere; font-weight: 600; }
.file-size { color: #6b7280; font-size: 12.5px; white-space: nowrap; }
.file.is-missing { color: #6b7280; font-style: italic; }
.files audio { max-width: 240px; }
.bubble:empty { display: none; }
.edited { color: #6b7280; font-style: italic; }
.is-withdrawn .withdrawn-text {
  font-size: 13px; font-style: italic; color: #6b7280; padding: 6px 12px; border-radius: 12px;
  border: 1px dashed #d1d5db;
}
.queue {
  align-self: stretch; margin: 0; padding: 8px 12px; font-size: 13px; color: #1e3a5f;
  background: #e8f0fb; border-radius: 10px;
}
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
  .panel, .side-left .panel, .side-right .panel {
    inset: 0; width: auto; height: 100%; max-height: none; border-radius: 0; border: 0;
  }
  .root.is-open .launcher { display: none; }
  .input { font-size: 16px; } /* below 16px iOS zooms the page on focus */
}
@media (prefers-reduced-motion: reduce) { .panel { animation: none; } .launcher { transition: none; } }
`;

  // ---- building the UI ----------------------------------------------------------------

  function buildUi(config) {
    const host = document.createElement("pustaka-chat");
    host.id = "pustaka-chat";
    const shadow = host.attachShadow({ mode: "open" });
    const { brand, on } = config.colours;
    const root = h("div", {
      class: "root side-" + config.position,
      // A light brand colour is too faint for focus rings on white: use dark ink there.
      style: `--brand:${brand};--on-brand:${on};--ring:${brand}40;` +
        `--brand-text:${on === "#ffffff" ? brand : "#111827"};--focus:var(--brand-text)`,
    });

    const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    const launcher = h("button", {
      type: "button", part: "launcher", class: "launcher", "aria-expanded": "false",
      "aria-controls": "pustaka-panel", "aria-label": fill(T.open, config),
      onclick: () => (S.isOpen ? close() : open()),
    }, icon("chat", 28), badge);

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
    log.append(stored, pending, queue, offlineNote);
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

    root.append(panel, launcher);
    shadow.append(h("style", { text: CSS }), root);
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

    (document.body || document.documentElement).append(host);
    return { host, root, launcher, badge, panel, status, connection, log, stored, pending,
      input, send, error, counter, wait, profile, offline, offlineNote, notice, queue, tray, attach };
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

  function nearBottom() {
    const log = S.ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd() {
    const log = S.ui.log;
    log.scrollTop = log.scrollHeight;
  }

  // ---- open / close -------------------------------------------------------------------

  function open() {
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
    requestAnimationFrame(() => focusTarget(input).focus());
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
    panel.hidden = true;
    root.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    showNotice("");
    updateBadge();
    if (hadFocus) launcher.focus();
  }

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
    if (!S.isOpen && !fromHistory && msg.direction !== "patron") { S.unread++; updateBadge(); }
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
      sendFrame({ type: "send", cid: item.cid, text: item.text });
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

  /** The offline form when nobody is at the desk and there is no open conversation. */
  function applyMode() {
    if (!S.ui) return;
    const { panel, offline, offlineNote, log } = S.ui;
    const away = !S.availability.staffed;
    const formShown = away && !hasOpenConversation() && outbox.items.length === 0;
    panel.classList.toggle("is-offline", formShown);
    offline.el.hidden = !formShown;
    log.classList.toggle("has-history", S.order.length > 0);
    offline.opens.textContent = S.availability.opens;
    offline.opens.hidden = !S.availability.opens;
    const noteShown = away && !formShown;
    offlineNote.hidden = !noteShown;
    if (noteShown) {
      const email = S.offlineEmail || (store.json(KEY_PROFILE, {}) || {}).email || "";
      offlineNote.textContent = S.config.email === false ? T.offlineSentChat
        : email ? fill(T.offlineSent, { email }) : T.afterHours;
      if (S.availability.opens) offlineNote.textContent += " " + S.availability.opens;
    }
  }

  function submitOffline() {
    const form = S.ui.offline;
    const question = {
      cid: newCid(),
      name: form.name.value.replace(/\s+/g, " ").trim(),
      email: form.email.value.trim(),
      text: form.question.value.replace(/\r\n/g, "\n").trim(),
    };
    const problem = !question.name ? ["missing_name", form.name]
      : !question.email && S.config.email !== false ? ["missing_email", form.email]
      : question.email && !EMAIL_RE.test(question.email) ? ["bad_email", form.email]
      : !question.text ? ["empty", form.question]
      : countChars(question.text) > S.config.maxText ? ["too_long", form.question] : null;
    if (problem) return offlineRefused(problem[0], problem[1]);
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
      missing_email: "email", bad_email: "email", empty: "question", too_long: "question" }[code];
    const lasting = code !== "rate_limited" && code !== "internal";
    if (lasting) S.offline = null;
    if (code === "desk_open") { S.availability.staffed = true; applyMode(); } // write in the chat
    const text = code === "blocked" && typeof frame.message === "string" ? frame.message : "";
    offlineRefused(code, field ? S.ui.offline[field] : null, text);
  }

  /** Show what is wrong with the form (or nothing, with ""), on the field it concerns. */
  function offlineRefused(code, field = null, text = "") {
    const form = S.ui.offline;
    for (const el of [form.name, form.email, form.question]) el.removeAttribute("aria-invalid");
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

  // ---- frames from the server (both transports) ------------------------------------------

  function helloBody() {
    let tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { /* old browser */ }
    return {
      token: store.get(KEY_TOKEN) || null,
      since: S.lastId,
      page: { url: location.href.slice(0, 500), title: document.title.slice(0, 200) },
      lang: LANG,
      tz,
    };
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
      case "queue": return showQueue(frame);
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

  function onAck(frame) {
    const cid = typeof frame.cid === "string" ? frame.cid : "";
    receive(frame.message);
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

  // ---- connection lifecycle --------------------------------------------------------------

  function start() {
    if (S.started) return;
    S.started = true;
    setConnectionBanner(T.connecting);
    connect();
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (S.transport === "ws" && S.ws) return; // a socket is already on its way
    if (S.transport === "ws") openSocket();
    else httpHello();
  }

  function reconnectNow() {
    if (!S.started || S.connected) return;
    S.attempt = 0;
    connect();
  }

  function lost() {
    S.connected = false;
    requeueProfile();
    setConnectionBanner(S.everConnected ? T.reconnecting : T.connecting);
    for (const timer of S.ackTimers.values()) clearTimeout(timer);
    S.ackTimers.clear(); // unacked messages are resent after the next welcome
  }

  function scheduleReconnect() {
    clearTimeout(S.retryTimer);
    const ceiling = Math.min(30000, 500 * 2 ** S.attempt);
    const delay = Math.max(500, ceiling / 2 + (Math.random() * ceiling) / 2);
    S.attempt++;
    S.retryTimer = setTimeout(connect, delay);
  }

  function useHttp() {
    S.transport = "http";
    S.attempt = 0;
    stopPing();
  }

  // ---- WebSocket transport --------------------------------------------------------------

  function openSocket() {
    let ws;
    try {
      ws = new WebSocket(WS_URL);
    } catch {
      return socketFailed(false);
    }
    S.ws = ws;
    let welcomed = false;
    const guard = setTimeout(() => dropSocket(ws), CONNECT_TIMEOUT); // proxies that hang
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "hello", ...helloBody() }));
    };
    ws.onmessage = (event) => {
      S.awaitingPong = false;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && frame.type === "welcome" && !welcomed) {
        welcomed = true;
        clearTimeout(guard);
        S.wsFailures = 0;
        S.wsEverWelcomed = true;
        startPing();
      }
      handleFrame(frame);
    };
    ws.onclose = () => {
      clearTimeout(guard);
      if (S.ws === ws) socketFailed(welcomed);
    };
  }

  /** Forget a socket at once; a dead TCP link can take minutes to report its close. */
  function dropSocket(ws) {
    ws.onclose = ws.onmessage = ws.onopen = null;
    try { ws.close(); } catch { /* already closed */ }
    if (S.ws === ws) socketFailed(S.connected);
  }

  function socketFailed(hadWelcome) {
    S.ws = null;
    stopPing();
    lost();
    if (!hadWelcome) S.wsFailures++;
    // Only a socket that never worked on this page means WebSockets are blocked here;
    // one that worked and dropped is a restarting server, so keep trying it.
    if (S.wsFailures >= WS_FAILURES_BEFORE_HTTP && !S.wsEverWelcomed) {
      useHttp();
      store.set(KEY_HTTP_ONLY, String(Date.now() + 3600e3), "sessionStorage"); // next pages too
      connect();
      return;
    }
    scheduleReconnect();
  }

  function sendFrame(frame) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(frame));
  }

  function startPing() {
    stopPing();
    S.awaitingPong = false;
    S.pingTimer = setInterval(() => {
      if (!S.ws) return stopPing();
      if (S.awaitingPong) return dropSocket(S.ws); // nothing heard for a whole interval
      S.awaitingPong = true;
      sendFrame({ type: "ping" });
    }, PING_EVERY);
  }

  function stopPing() {
    clearInterval(S.pingTimer);
    S.pingTimer = 0;
  }

  // ---- HTTP fallback ---------------------------------------------------------------------

  async function http(method, path, body, timeout = 15000) {
    const headers = {};
    const token = store.get(KEY_TOKEN);
    if (token && path !== "/widget/api/hello" && path !== "/widget/api/resume") headers.Authorization = "Bearer " + token;
    if (body) headers["Content-Type"] = "application/json";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    try {
      const response = await fetch(BASE + path, {
        method, headers, body: body ? JSON.stringify(body) : undefined,
        signal: abort.signal, credentials: "omit", cache: "no-store",
      });
      let data = null;
      try { data = await response.json(); } catch { /* not JSON: judged by status */ }
      return { status: response.status, ok: response.ok, data };
    } finally {
      clearTimeout(timer);
    }
  }

  async function httpHello() {
    const gen = ++S.httpGen; // any older poll loop stops at its next turn
    try {
      const reply = await http("POST", "/widget/api/hello", helloBody());
      if (gen !== S.httpGen) return;
      if (reply.ok && reply.data && reply.data.type === "welcome") {
        onWelcome(reply.data);
        pollLoop(gen);
        return;
      }
      if (reply.data && reply.data.code === "bad_token" && store.get(KEY_TOKEN)) {
        forgetIdentity();
        return;
      }
      throw new Error("hello refused: " + reply.status);
    } catch {
      if (gen !== S.httpGen) return;
      lost();
      scheduleReconnect();
    }
  }

  async function pollLoop(gen) {
    while (gen === S.httpGen && S.transport === "http") {
      const began = Date.now();
      const since = S.lastId || "";
      let reply;
      try {
        const query = `since=${encodeURIComponent(since)}&wait=${POLL_WAIT}`;
        reply = await http("GET", "/widget/api/poll?" + query, null, (POLL_WAIT + 15) * 1000);
      } catch {
        reply = null;
      }
      if (gen !== S.httpGen) return;
      if (reply && reply.status === 401) return forgetIdentity();
      if (!reply || !reply.ok) {
        lost();
        scheduleReconnect();
        return;
      }
      let fresh = 0;
      const messages = reply.data && Array.isArray(reply.data.messages) ? reply.data.messages : [];
      for (const m of messages) if (receive(m)) fresh++;
      if (reply.data && "queue" in reply.data) showQueue(reply.data.queue);
      // A server that answers at once with nothing new must not make us spin. An answer
      // holding only what an ack already showed is news too: the cursor moved meanwhile.
      const moved = (S.lastId || "") !== since;
      if (!fresh && !moved && Date.now() - began < 1000) {
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  async function drainHttpQueue() {
    if (S.httpSending) return;
    S.httpSending = true;
    try {
      while (S.httpQueue.length && S.transport === "http" && S.connected) {
        const cid = S.httpQueue.shift();
        const item = outbox.get(cid);
        if (!item) continue;
        let reply;
        try {
          reply = await http("POST", "/widget/api/send", { cid, text: item.text });
        } catch {
          markFailed(cid);
          continue;
        }
        if (reply.ok && reply.data && reply.data.type === "ack") onAck(reply.data);
        else if (reply.status === 401) { markFailed(cid); forgetIdentity(); break; }
        else if (reply.data && reply.data.type === "error") onError({ ...reply.data, cid });
        else markFailed(cid);
      }
    } finally {
      S.httpSending = false;
    }
  }

  // ---- boot ---------------------------------------------------------------------------

  async function loadConfig() {
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const response = await fetch(BASE + "/widget/config", { credentials: "omit" });
        if (response.ok) return readConfig(await response.json());
      } catch { /* offline or the bridge is restarting: try again below */ }
      await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** attempt)));
    }
    return null;
  }

  async function boot() {
    const config = await loadConfig();
    if (!config) {
      console.warn("Pustaka chat: could not load", BASE + "/widget/config");
      return;
    }
    if (!document.body) await new Promise((r) => document.addEventListener("DOMContentLoaded", r, { once: true }));
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

  window.PustakaChat = {
    version: 1,
    open,
    close,
    state: () => ({
      connected: S.connected,
      transport: S.transport,
      messages: S.order.map((entry) => entry.id),
      pending: outbox.items.length,
      lang: LANG,
      ready: Boolean(S.booted),
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
