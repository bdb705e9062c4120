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

