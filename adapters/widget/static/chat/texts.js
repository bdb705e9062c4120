  // ---- texts ------------------------------------------------------------------------
  // The words live in texts.json, one table per language; the bridge puts them here as it
  // assembles this file. The loader already chose the language (data-lang, then the
  // browser's), since the bubble's label needs it first.

  const TEXTS = /*@texts*/{ en: { errors: {} } };
  const LANG = LOADER.lang in TEXTS ? LOADER.lang : "en";
  const T = TEXTS[LANG];
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));

