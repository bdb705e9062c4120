/* Presence beacon for /visitors and /greet while the chat is not fetched (PROTOCOL.md,
 * "Presence beacon"; every page carries this file, so it stays short). */
(() => {
  "use strict";

  const api = window.PustakaChat;
  const L = api && api._loader;
  if (!L || L.beacon || L.eager || !window.fetch) return;
  L.beacon = true;
  const KEY = "pustaka.visit";
  let timer = 0;
  let every = 30;

  const kept = () => { try { return localStorage.getItem(KEY) || ""; } catch { return ""; } };
  function keep(key, value) {
    try {
      if (value) localStorage.setItem(key, value); else localStorage.removeItem(key);
    } catch { /* storage blocked: a new handle each page, still listed */ }
  }

  function beat(gone) {
    clearTimeout(timer);
    if (!gone && (L.chat || L.loading || document.visibilityState === "hidden")) return;
    const body = { visit: kept(), lang: L.lang, referrer: document.referrer.slice(0, 500),
      page: { url: location.href.slice(0, 500), title: document.title.slice(0, 200) } };
    if (gone) body.gone = true;
    fetch(L.base + "/widget/api/presence", { method: "POST", credentials: "omit",
      keepalive: Boolean(gone), headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body) })
      .then((r) => r.json().then((a) => answered(r.status, a || {})))
      .catch(() => later(every));
  }

  const later = (seconds) => { timer = setTimeout(beat, Math.max(1, seconds) * 1000); };

  function answered(status, a) {
    if (status === 429) return later(Number(a.retry_after) || every);
    if (a.code === "bad_visit") keep(KEY, ""); // signed by another bridge: start afresh
    if (status !== 200) return later(every);
    if (typeof a.visit === "string") {
      keep(KEY, a.visit);
      if (L.chat || L.loading) return beat(true); // the chat came first: its hello counts
    }
    if (a.greet && typeof a.token === "string") {
      keep("pustaka.token", a.token); // the chat says hello as this visitor, and is greeted
      keep(KEY, "");
      L.greeted = true;
      return api.open();
    }
    every = Number(a.next) || 0;
    if (every > 0) later(every);
  }

  /** The chat is being fetched: its hello tells the desk where the patron is now. */
  L.leaving = () => { if (!L.greeted && kept() && every > 0) beat(true); };

  let last = location.href;
  const moved = () => setTimeout(() => { if (location.href !== last) { last = location.href; beat(); } }, 50);
  const push = history.pushState;
  history.pushState = function pushState(...args) {
    const result = push.apply(this, args);
    moved();
    return result;
  };
  window.addEventListener("popstate", moved);
  document.addEventListener("visibilitychange", () => { if (every > 0) beat(); });
  L.drawn.then(() => beat());
})();
