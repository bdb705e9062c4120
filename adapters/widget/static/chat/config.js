  // ---- config -------------------------------------------------------------------------

  function readConfig(raw) {
    const c = raw && typeof raw === "object" ? raw : {};
    const text = (v, fallback = "") => (typeof v === "string" ? v : fallback);
    const greetings = c.greeting && typeof c.greeting === "object" ? c.greeting : {};
    const greeting = [greetings[LANG], greetings.en, ...Object.values(greetings)]
      .find((g) => typeof g === "string" && g.trim()) || "";
    const max = Number(c.max_text);
    return {
      availability: readAvailability(c.availability),
      ...LOADER.brand, // library, colours, position, size, label, logo: what the bubble shows
      greeting,
      maxText: Number.isInteger(max) && max > 0 ? max : 4000,
      files: readFiles(c.files),
      prechat: readPrechat(c.prechat), // prechat.js
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

