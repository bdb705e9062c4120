/*
 * Greeting rules ([[widget.greetings]] in the bridge's config), run by the loader on
 * every page: after `after` seconds on a page whose path (with or without its query)
 * matches one of the rule's globs (`*` is any run of characters), the chat opens with
 * the rule's words as a line from the library. At most once a day in this browser
 * (any rule), never while the patron is typing in the page's own fields (it waits for
 * them to leave the field), never while the chat is open, and never again once the
 * patron has closed the chat. Storage blocked: no greeting, as "once" cannot be kept.
 */
(() => {
  "use strict";

  const api = window.PustakaChat;
  const L = api && api._loader;
  if (!L || L.greeter || !Array.isArray(L.greetings) || !L.greetings.length) return;
  L.greeter = true;
  const DAY = "pustaka.greeted"; // the local day a greeting last opened the chat
  const CLOSED = "pustaka.closed"; // the patron closed the chat: no greeting opens it again
  let waiting = false; // a rule fired while the patron typed: it waits for them to leave

  function stored(key) {
    try { return localStorage.getItem(key); } catch { return "blocked"; }
  }

  function today() {
    const d = new Date();
    return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
  }

  const glob = (g) => new RegExp("^" + g.split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");

  function matches(rule) {
    const pages = Array.isArray(rule.pages) ? rule.pages : [];
    return pages.some((g) => typeof g === "string" && (glob(g).test(location.pathname)
      || glob(g).test(location.pathname + location.search)));
  }

  /** The page's own field has the focus (the chat's are behind its host element). */
  function typing() {
    const el = document.activeElement;
    return Boolean(el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)));
  }

  function words(rule) {
    const texts = rule.texts && typeof rule.texts === "object" ? rule.texts : {};
    const text = [texts[L.lang], texts[""]].find((t) => typeof t === "string" && t.trim());
    return text ? text.slice(0, 500) : "";
  }

  function fire(rule) {
    if (stored(CLOSED) || stored(DAY) === today()) return;
    const launcher = L.shell && L.shell.launcher;
    if (launcher && launcher.getAttribute("aria-expanded") === "true") return; // chatting
    if (typing()) {
      if (waiting) return;
      waiting = true;
      document.addEventListener("focusout", () => {
        waiting = false;
        setTimeout(() => fire(rule), 3000);
      }, { once: true });
      return;
    }
    const text = words(rule);
    if (!text) return;
    try { localStorage.setItem(DAY, today()); } catch { return; }
    L.greeting = text;
    if (L.libraryLine) L.libraryLine(); // the chat is here already: show it now
    api.open();
  }

  /** Record the patron closing the chat: the launcher's aria-expanded going to false. */
  function watchClose(shell) {
    let open = shell.launcher.getAttribute("aria-expanded") === "true";
    new MutationObserver(() => {
      const now = shell.launcher.getAttribute("aria-expanded") === "true";
      if (open && !now) {
        try { localStorage.setItem(CLOSED, "1"); } catch { /* nothing to keep it in */ }
      }
      open = now;
    }).observe(shell.launcher, { attributes: true, attributeFilter: ["aria-expanded"] });
  }

  L.drawn.then((shell) => {
    watchClose(shell);
    for (const rule of L.greetings) {
      const after = Number(rule && rule.after);
      if (rule && matches(rule) && after >= 0) setTimeout(() => fire(rule), after * 1000);
    }
  });
})();
