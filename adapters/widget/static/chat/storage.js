  // ---- storage: blocked or full storage must never break the chat ----------------------

  const store = {
    get(key, area = "localStorage") {
      try { return window[area].getItem(key); } catch { return null; }
    },
    set(key, value, area = "localStorage") {
      try { window[area].setItem(key, value); } catch { /* blocked or full: keep going */ }
    },
    del(key) {
      try { localStorage.removeItem(key); } catch { /* blocked: nothing to remove */ }
    },
    json(key, fallback) {
      try { return JSON.parse(this.get(key)) ?? fallback; } catch { return fallback; }
    },
  };

  /* The outbox is shared by every tab of the site through localStorage, so each change
     re-reads it: one tab must not wipe another tab's unsent messages. */
  const outbox = {
    items: [],
    read() {
      const raw = store.json(KEY_PENDING, []);
      return Array.isArray(raw)
        ? raw.filter((x) => x && typeof x.cid === "string" && typeof x.text === "string")
        : [];
    },
    load() { this.items = this.read(); },
    add(item) {
      this.items.push(item);
      const all = this.read().filter((x) => x.cid !== item.cid);
      const { cid, text, at } = item; // the live item later carries its DOM elements
      store.set(KEY_PENDING, JSON.stringify([...all, { cid, text, at }]));
    },
    /** Files cannot live in localStorage: a message with files stays in this tab only. */
    addLive(item) { this.items.push(item); },
    remove(cid) {
      this.items = this.items.filter((x) => x.cid !== cid);
      store.set(KEY_PENDING, JSON.stringify(this.read().filter((x) => x.cid !== cid)));
    },
    get(cid) { return this.items.find((x) => x.cid === cid); },
  };

  function newCid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

