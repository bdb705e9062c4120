  // ---- texts ------------------------------------------------------------------------
  // The words come from GET /widget/texts/<code>.json (the library's overrides in; the
  // browser keeps it and revalidates by ETag), in the library's language that matches
  // data-lang, then <html lang>, then the browser's languages. English is built in (the
  // bridge writes adapters/i18n/texts/en.json here as it assembles this file) so the
  // chat still works when that file cannot be fetched; LANG is the language it shows.

  /** Flat texts ("errors.x" → .errors.x) as the chat reads them, over `base` where silent. */
  function readTexts(raw, base = { errors: {} }) {
    const texts = { ...base, errors: { ...base.errors } };
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== "string") continue;
      if (key.startsWith("errors.")) texts.errors[key.slice(7)] = value;
      else texts[key] = value;
    }
    return texts;
  }

  const ENGLISH = readTexts(/*@texts*/{});
  let LANG = "en";
  let DIR = "ltr";
  let T = ENGLISH;
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));

  /** The library's language for this page (LOADER.pickLanguage, as the bubble chose). */
  function chooseLanguage(available, fallback) {
    const codes = (Array.isArray(available) ? available : []).filter((c) => typeof c === "string");
    return LOADER.pickLanguage(codes, fallback);
  }

  async function fetchTexts(code) {
    // Asked for by the loader beside the chat: its answer, even none, is final, since
    // asking again would only keep the patron waiting a round trip for English anyway.
    if (code === LOADER.lang && LOADER.texts) return LOADER.texts;
    try {
      const response = await fetch(`${BASE}/widget/texts/${encodeURIComponent(code)}.json`,
        { credentials: "omit" });
      return response.ok ? await response.json() : null;
    } catch {
      return null; // offline or refused: the chat speaks English
    }
  }

  /** Take the words of `code`; English stays when its file cannot be had. */
  async function useLanguage(code) {
    const raw = await fetchTexts(code);
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) return;
    const meta = raw._meta && typeof raw._meta === "object" ? raw._meta : {};
    T = readTexts(raw, ENGLISH);
    LANG = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(meta.code) ? meta.code : code;
    DIR = meta.dir === "rtl" ? "rtl" : "ltr";
  }
