/*
 * Pustaka Bridge chat widget: the loader, served as widget.js. Embed with one tag:
 *   <script src="https://chat.library.example/widget.js" async></script>
 *
 * Every page of the library's site loads this file, so it does only what first paint
 * needs: it draws the chat bubble from the settings the bridge wrote into it (and the
 * tag's data-* attributes), and fetches the chat itself (a versioned file the browser
 * keeps for a year) only when the patron is about to use it: on a hover, a focus or a
 * click on the bubble, PustakaChat.open() or .load(), or at once for a patron with a
 * conversation going (so replies reach them while they browse) or an email link.
 *
 * Page options, each overriding the bridge's setting for this page only:
 *   data-colour="#7a1f5c"  data-position="left|right"  data-size="compact|normal|large"
 *   data-label="Ask a librarian"  data-offset-x="24"  data-offset-y="24"
 *   data-logo="https://…/logo.png"  data-lang="id"  data-open="true"
 *   (data-position="auto": right, or left for a right-to-left language)
 */
(() => {
  "use strict";

  // document.currentScript only exists while this file first runs, so capture it now.
  const SCRIPT = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!SCRIPT || (window.PustakaChat && window.PustakaChat.version)) return; // embedded twice

  const SRC = new URL(SCRIPT.src, location.href);
  const BASE = SRC.origin + SRC.pathname.replace(/\/widget\.js$/, "").replace(/\/$/, "");
  // The bridge writes these as it serves this file (adapters/widget/bundle.py).
  const CONFIG = /*@config*/{};
  const CHAT = /*@chat*/{ path: "/widget/static/chat.js", integrity: "" };
  // The bubble's label per language, and dir: "rtl" for a right-to-left one.
  const TEXTS = /*@texts*/{ en: { open: "Chat with {library}" } };
  const CSS = /*@css*/"";
  const SIZES = ["compact", "normal", "large"];
  const SIDES = ["left", "right", "auto"]; // auto: the side a reader of the language starts on
  const COLOUR = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
  const DATA = SCRIPT.dataset;

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

  // Old and three-letter codes browsers and catalogues still send (adapters/i18n/choose.py).
  const ALIASES = { in: "id", ind: "id", jw: "jv", jav: "jv", msa: "ms", may: "ms", zsm: "ms",
    ara: "ar", zho: "zh", chi: "zh", cmn: "zh" };
  const PREFS = [DATA.lang, document.documentElement.lang, ...(navigator.languages || []),
    navigator.language];

  /** The first preference among `codes` (whole tag, then its primary language: pt-BR → pt,
      zh-Hans-CN → zh), else `fallback`. The chat chooses with it too, among the config's. */
  function pickLanguage(codes, fallback) {
    for (const raw of PREFS) {
      const tag = String(raw || "").trim().replace(/_/g, "-").toLowerCase();
      const primary = tag.split("-")[0];
      const found = [tag, ALIASES[primary] || primary].find((c) => c && codes.includes(c));
      if (found) return found;
    }
    return typeof fallback === "string" && fallback ? fallback : "en";
  }

  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));

  /** Brand colour plus a text colour on it with enough contrast (WCAG AA if possible). */
  function brandColours(raw) {
    const hex = COLOUR.test(raw) ? raw : "#0b5394";
    const full = hex.length === 4 ? "#" + [...hex.slice(1)].map((c) => c + c).join("") : hex;
    const channel = (i) => {
      const c = parseInt(full.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const lum = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    const onWhite = 1.05 / (lum + 0.05);
    const onDark = (lum + 0.05) / (0.0103 + 0.05); // #1a1a2e-ish near-black
    // Mid tones (#7f7f7f, #e53935) reach 4.5:1 with neither; the better of white and
    // black always does (they tie at 4.58:1).
    const onBlack = (lum + 0.05) / 0.05;
    const on = onWhite >= 4.5 ? "#ffffff" : onDark >= 4.5 ? "#111827" : onBlack > onWhite ? "#000000" : "#ffffff";
    return { brand: full, on };
  }

  function safeHref(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  /** The page's data-* value when it is one we can use, else the bridge's, else ours. */
  function choose(pageValue, bridgeValue, fallback, valid) {
    return [pageValue, bridgeValue].find((v) => v != null && v !== "" && valid(v)) ?? fallback;
  }

  const pixels = (v) => /^\d{1,3}$/.test(String(v)) && Number(v) <= 400;
  const text = (v) => (typeof v === "string" ? v.trim() : "");

  const words = () => TEXTS[LOADER.lang] || TEXTS.en || Object.values(TEXTS)[0];
  const side = (v) => (v !== "auto" ? v : words().dir === "rtl" ? "left" : "right");

  function readBrand() {
    const logo = choose(DATA.logo, CONFIG.logo, "", (v) => Boolean(safeHref(text(v))));
    return {
      library: text(CONFIG.library) || "Library",
      colours: brandColours(choose(DATA.colour || DATA.color, CONFIG.colour, "", (v) => COLOUR.test(v))),
      position: side(choose(DATA.position, CONFIG.position, "right", (v) => SIDES.includes(v))),
      size: choose(DATA.size, CONFIG.size, "normal", (v) => SIZES.includes(v)),
      label: (DATA.label != null ? text(DATA.label) : text(CONFIG.launcher_label)).slice(0, 40),
      offsetX: Number(choose(DATA.offsetX, CONFIG.offset_x, 20, pixels)),
      offsetY: Number(choose(DATA.offsetY, CONFIG.offset_y, 20, pixels)),
      logo: logo ? safeHref(text(logo)) : null,
    };
  }

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child != null) el.append(child); // strings → text nodes
    return el;
  }

  function chatIcon(size) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [k, v] of [["viewBox", "0 0 24 24"], ["width", size], ["height", size],
      ["aria-hidden", "true"], ["focusable", "false"]]) svg.setAttribute(k, v);
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM6 9h12v2H6V9zm8 5H6v-2h8v2zm4-6H6V6h12v2z");
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  /** Styles for the shadow root: a constructed sheet, which a page's CSP does not block as
      it blocks a <style> element without 'unsafe-inline'; a <style> where there is none. */
  function addStyles(shadow, css) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet];
    } catch {
      shadow.prepend(h("style", { text: css }));
    }
  }

  /** The shadow root with the bubble alone; the chat builds its panel into it later. */
  function drawBubble(brand) {
    const host = document.createElement("pustaka-chat");
    host.id = "pustaka-chat";
    const shadow = host.attachShadow({ mode: "open" });
    const { brand: colour, on } = brand.colours;
    const root = h("div", { class: `root side-${brand.position} size-${brand.size}` });
    // Set through the CSSOM, which a page's CSP allows even without 'unsafe-inline'.
    // A light brand colour is too faint for focus rings on white: use dark ink there.
    for (const [name, value] of [["--brand", colour], ["--on-brand", on], ["--ring", colour + "40"],
      ["--brand-text", on === "#ffffff" ? colour : "#111827"], ["--focus", "var(--brand-text)"],
      ["--offset-x", brand.offsetX + "px"], ["--offset-y", brand.offsetY + "px"]]) {
      root.style.setProperty(name, value);
    }
    const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    const iconSize = { compact: 22, normal: 28, large: 32 }[brand.size];
    const launcher = h("button", {
      type: "button", part: "launcher", class: brand.label ? "launcher has-label" : "launcher",
      "aria-expanded": "false", "aria-label": fill(words().open, brand),
    }, chatIcon(iconSize), brand.label ? h("span", { part: "label", text: brand.label }) : null, badge);
    launcher.addEventListener("click", () => (LOADER.chat ? LOADER.chat.toggle() : api.open()));
    for (const wake of ["pointerenter", "focus", "touchstart"]) {
      launcher.addEventListener(wake, load, { once: true, passive: true });
    }
    root.append(launcher);
    shadow.append(root);
    addStyles(shadow, CSS);
    document.body.append(host);
    return { host, shadow, root, launcher, badge };
  }

  /** Fetch the chat once; a failure lets the next wish (or a patron waiting) try again. */
  function load() {
    if (LOADER.loading || LOADER.chat) return;
    if (LOADER.leaving) LOADER.leaving(); // presence.js: the chat's hello takes over
    LOADER.loading = true;
    // The chat's first question, asked now rather than a round trip after it arrives.
    const ask = (path) => fetch(BASE + path, { credentials: "omit" })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);
    LOADER.config = ask("/widget/config");
    LOADER.texts = ask(`/widget/texts/${LOADER.lang}.json`); // the words, by the same token
    if (LOADER.shell) LOADER.shell.launcher.setAttribute("aria-busy", "true");
    const script = h("script", { src: BASE + CHAT.path, async: true });
    if (CHAT.integrity) {
      script.integrity = CHAT.integrity; // exactly the file this loader was built with
      script.crossOrigin = "anonymous";
    }
    script.addEventListener("error", () => {
      script.remove();
      LOADER.loading = false;
      LOADER.failures++;
      if (LOADER.shell) LOADER.shell.launcher.removeAttribute("aria-busy");
      console.warn("Pustaka chat: could not load", BASE + CHAT.path);
      if (LOADER.failures === 1 && renew()) return;
      retry();
    });
    (document.head || document.documentElement).append(script);
  }

  /** Try again later when a patron waits for the chat; otherwise their next wish will. */
  function retry() {
    if ((LOADER.eager || LOADER.wantOpen) && LOADER.failures < 6) {
      setTimeout(load, Math.min(30000, 1000 * 2 ** LOADER.failures));
    }
  }

  /** The chat this loader names is gone when the bridge was upgraded while the loader sat
      in the browser's cache: fetch the loader afresh (at most once in ten minutes, so a
      bridge that is down is not asked in a loop) and hand the page to the new one. */
  function renew() {
    const key = "pustaka.loader-renewed";
    try {
      if (Date.now() - (Number(sessionStorage.getItem(key)) || 0) < 600e3) return false;
      sessionStorage.setItem(key, String(Date.now()));
    } catch {
      return false; // storage blocked: no way to know we tried, so do not
    }
    // The reload refreshes the cached copy for the next pages; this page gets its own.
    // No answer at all means the network is down, not an upgrade: keep this loader.
    fetch(SCRIPT.src, { mode: "no-cors", cache: "reload", credentials: "include" })
      .then(() => {
        if (LOADER.chat) return;
        const fresh = document.createElement("script"); // a clone would not run again
        for (const { name, value } of SCRIPT.attributes) fresh.setAttribute(name, value);
        const src = new URL(SCRIPT.src, location.href);
        src.searchParams.set("renewed", String(Date.now()));
        fresh.src = src.href;
        if (LOADER.wantOpen) fresh.dataset.open = "true";
        if (LOADER.shell) LOADER.shell.host.remove();
        delete window.PustakaChat;
        (document.head || document.documentElement).append(fresh);
      }, retry);
    return true;
  }

  /** A patron with a conversation going or messages still to send: the chat starts now. */
  function returning() {
    try {
      const pending = localStorage.getItem("pustaka.pending");
      return Boolean(localStorage.getItem("pustaka.token") || (pending && pending !== "[]"));
    } catch {
      return false; // storage blocked: nothing could have been kept from before
    }
  }

  const LOADER = {
    base: BASE,
    lang: pickLanguage(Object.keys(TEXTS), CONFIG.language),
    pickLanguage,
    resume: takeResumeToken(),
    wantOpen: DATA.open === "true",
    brand: null,
    shell: null,
    drawn: null, // resolves to the shell once the bubble is on the page
    addStyles, // for the chat's own styles, added beside the bubble's
    config: null, // /widget/config, asked for together with the chat
    texts: null, // and /widget/texts/<lang>.json
    chat: null, // the chat's own controls, once it runs
    loading: false,
    failures: 0,
    eager: false,
    greetings: Array.isArray(CONFIG.greetings) ? CONFIG.greetings : [], // greetings.js
    greeting: "", // a greeting rule's words, for the chat to show as it opens
  };
  LOADER.brand = readBrand();
  LOADER.eager = Boolean(LOADER.resume) || LOADER.wantOpen || returning();

  const closedState = () => ({
    ready: Boolean(LOADER.shell) && !LOADER.eager, loaded: false, connected: false,
    transport: "ws", messages: [], pending: 0, lang: LOADER.lang, staffed: true,
    offlineForm: false, files: false, tray: 0, queue: null, sendableIn: 0,
  });

  const api = {
    version: 1,
    open() {
      if (LOADER.chat) return LOADER.chat.open();
      LOADER.wantOpen = true;
      load();
    },
    close() {
      if (LOADER.chat) return LOADER.chat.close();
      LOADER.wantOpen = false;
    },
    /** Fetch the chat without opening it: for a greeting that is about to show. */
    load,
    state: () => (LOADER.chat ? LOADER.chat.state() : closedState()),
    _loader: LOADER,
  };
  window.PustakaChat = api;

  LOADER.drawn = new Promise((resolve) => {
    const draw = () => resolve((LOADER.shell = drawBubble(LOADER.brand)));
    if (document.body) draw();
    else document.addEventListener("DOMContentLoaded", draw, { once: true });
  });
  if (LOADER.eager) load();
})();
