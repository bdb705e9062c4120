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

