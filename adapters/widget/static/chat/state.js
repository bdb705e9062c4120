  // ---- state --------------------------------------------------------------------------

  const S = {
    config: null,
    ui: null,
    started: false,
    wantOpen: LOADER.wantOpen,
    isOpen: false,
    dismissed: false, // the patron closed the chat on this page view
    unread: 0,
    transport: "ws",
    connected: false,
    everConnected: false,
    wsEverWelcomed: false,
    wsFailures: 0,
    attempt: 0,
    ws: null,
    retryTimer: 0,
    pingTimer: 0,
    awaitingPong: false,
    httpGen: 0,
    httpQueue: [],
    httpSending: false,
    messages: new Map(), // id → element
    order: [], // {id, at, el} in display order
    lastId: null,
    lastAt: -Infinity,
    ackTimers: new Map(), // cid → timer
    profileQueued: null, // saved by the patron, not yet sent
    profileSent: null, // sent, not yet confirmed by profile_saved
    profileWaiting: 0, // profile sends without an answer yet
    claimedBy: "",
    booted: false,
    availability: { staffed: true, opens: "" },
    conversation: null, // {id, status, rating} as the server last told us
    offline: null, // the offline form sent, not yet saved: {cid, name, email, text}
    offlineTimer: 0,
    sendableAt: 0, // Date.now() before which the server refuses sends (rate limit)
    waitTimer: 0,
    offlineLast: null, // the last form sent, to reuse its cid when pressed again
    offlineEmail: "", // where the answer to an after-hours question goes
    ratings: [], // {id, at, conversation, el, parts}: the rating forms shown
    tray: [], // {file, preview}: files chosen, not yet sent
    queue: null, // the last `queue` frame with a place in it
  };

