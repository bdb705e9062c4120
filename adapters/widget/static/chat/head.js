/*
 * Pustaka Bridge chat widget: the patron's side of PROTOCOL.md (v1).
 * Plain ES2020, no dependencies. Libraries embed only the loader (loader/loader.js, served
 * as widget.js); it draws the bubble and fetches this file when the patron is about to
 * chat. adapters/widget/bundle.py joins the pieces of this closure (chat/*) into one file.
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

  // The loader found the embed tag, drew the bubble and took the resume token out of the
  // address bar; this file runs only when the loader asked for it, and only once.
  const LOADER = window.PustakaChat && window.PustakaChat._loader;
  if (!LOADER || LOADER.chat) return;

  const BASE = LOADER.base;
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

  const RESUME = LOADER.resume;

