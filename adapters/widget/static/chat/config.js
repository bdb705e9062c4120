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

