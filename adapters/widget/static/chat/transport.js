  // ---- connection lifecycle --------------------------------------------------------------

  function start() {
    if (S.started) return;
    S.started = true;
    setConnectionBanner(T.connecting);
    connect();
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (S.transport === "ws" && S.ws) return; // a socket is already on its way
    if (S.transport === "ws") openSocket();
    else httpHello();
  }

  function reconnectNow() {
    if (!S.started || S.connected) return;
    S.attempt = 0;
    connect();
  }

  function lost() {
    S.connected = false;
    requeueProfile();
    setConnectionBanner(S.everConnected ? T.reconnecting : T.connecting);
    for (const timer of S.ackTimers.values()) clearTimeout(timer);
    S.ackTimers.clear(); // unacked messages are resent after the next welcome
  }

  function scheduleReconnect() {
    clearTimeout(S.retryTimer);
    const ceiling = Math.min(30000, 500 * 2 ** S.attempt);
    const delay = Math.max(500, ceiling / 2 + (Math.random() * ceiling) / 2);
    S.attempt++;
    S.retryTimer = setTimeout(connect, delay);
  }

  function useHttp() {
    S.transport = "http";
    S.attempt = 0;
    stopPing();
  }

  // ---- WebSocket transport --------------------------------------------------------------

  function openSocket() {
    let ws;
    try {
      ws = new WebSocket(WS_URL);
    } catch {
      return socketFailed(false);
    }
    S.ws = ws;
    let welcomed = false;
    const guard = setTimeout(() => dropSocket(ws), CONNECT_TIMEOUT); // proxies that hang
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "hello", ...helloBody() }));
    };
    ws.onmessage = (event) => {
      S.awaitingPong = false;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && frame.type === "welcome" && !welcomed) {
        welcomed = true;
        clearTimeout(guard);
        S.wsFailures = 0;
        S.wsEverWelcomed = true;
        startPing();
      }
      handleFrame(frame);
    };
    ws.onclose = () => {
      clearTimeout(guard);
      if (S.ws === ws) socketFailed(welcomed);
    };
  }

  /** Forget a socket at once; a dead TCP link can take minutes to report its close. */
  function dropSocket(ws) {
    ws.onclose = ws.onmessage = ws.onopen = null;
    try { ws.close(); } catch { /* already closed */ }
    if (S.ws === ws) socketFailed(S.connected);
  }

  function socketFailed(hadWelcome) {
    S.ws = null;
    stopPing();
    lost();
    if (!hadWelcome) S.wsFailures++;
    // Only a socket that never worked on this page means WebSockets are blocked here;
    // one that worked and dropped is a restarting server, so keep trying it.
    if (S.wsFailures >= WS_FAILURES_BEFORE_HTTP && !S.wsEverWelcomed) {
      useHttp();
      store.set(KEY_HTTP_ONLY, String(Date.now() + 3600e3), "sessionStorage"); // next pages too
      connect();
      return;
    }
    scheduleReconnect();
  }

  function sendFrame(frame) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(frame));
  }

  function startPing() {
    stopPing();
    S.awaitingPong = false;
    S.pingTimer = setInterval(() => {
      if (!S.ws) return stopPing();
      if (S.awaitingPong) return dropSocket(S.ws); // nothing heard for a whole interval
      S.awaitingPong = true;
      sendFrame({ type: "ping" });
    }, PING_EVERY);
  }

  function stopPing() {
    clearInterval(S.pingTimer);
    S.pingTimer = 0;
  }

  // ---- HTTP fallback ---------------------------------------------------------------------

  async function http(method, path, body, timeout = 15000) {
    const headers = {};
    const token = store.get(KEY_TOKEN);
    if (token && path !== "/widget/api/hello" && path !== "/widget/api/resume") headers.Authorization = "Bearer " + token;
    if (body) headers["Content-Type"] = "application/json";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    try {
      const response = await fetch(BASE + path, {
        method, headers, body: body ? JSON.stringify(body) : undefined,
        signal: abort.signal, credentials: "omit", cache: "no-store",
      });
      let data = null;
      try { data = await response.json(); } catch { /* not JSON: judged by status */ }
      return { status: response.status, ok: response.ok, data };
    } finally {
      clearTimeout(timer);
    }
  }

  async function httpHello() {
    const gen = ++S.httpGen; // any older poll loop stops at its next turn
    try {
      const reply = await http("POST", "/widget/api/hello", helloBody());
      if (gen !== S.httpGen) return;
      if (reply.ok && reply.data && reply.data.type === "welcome") {
        onWelcome(reply.data);
        pollLoop(gen);
        return;
      }
      if (reply.data && reply.data.code === "bad_token" && store.get(KEY_TOKEN)) {
        forgetIdentity();
        return;
      }
      throw new Error("hello refused: " + reply.status);
    } catch {
      if (gen !== S.httpGen) return;
      lost();
      scheduleReconnect();
    }
  }

  async function pollLoop(gen) {
    while (gen === S.httpGen && S.transport === "http") {
      const began = Date.now();
      const since = S.lastId || "";
      let reply;
      try {
        const query = `since=${encodeURIComponent(since)}&wait=${POLL_WAIT}`;
        reply = await http("GET", "/widget/api/poll?" + query, null, (POLL_WAIT + 15) * 1000);
      } catch {
        reply = null;
      }
      if (gen !== S.httpGen) return;
      if (reply && reply.status === 401) return forgetIdentity();
      if (!reply || !reply.ok) {
        lost();
        scheduleReconnect();
        return;
      }
      let fresh = 0;
      const messages = reply.data && Array.isArray(reply.data.messages) ? reply.data.messages : [];
      for (const m of messages) if (receive(m)) fresh++;
      if (reply.data && "queue" in reply.data) showQueue(reply.data.queue);
      // A server that answers at once with nothing new must not make us spin. An answer
      // holding only what an ack already showed is news too: the cursor moved meanwhile.
      const moved = (S.lastId || "") !== since;
      if (!fresh && !moved && Date.now() - began < 1000) {
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  async function drainHttpQueue() {
    if (S.httpSending) return;
    S.httpSending = true;
    try {
      while (S.httpQueue.length && S.transport === "http" && S.connected) {
        const cid = S.httpQueue.shift();
        const item = outbox.get(cid);
        if (!item) continue;
        let reply;
        try {
          reply = await http("POST", "/widget/api/send", sendBody(item)); // prechat.js
        } catch {
          markFailed(cid);
          continue;
        }
        if (reply.ok && reply.data && reply.data.type === "ack") onAck(reply.data);
        else if (reply.status === 401) { markFailed(cid); forgetIdentity(); break; }
        else if (reply.data && reply.data.type === "error") onError({ ...reply.data, cid });
        else markFailed(cid);
      }
    } finally {
      S.httpSending = false;
    }
  }

