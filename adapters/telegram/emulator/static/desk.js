// The librarians' forum group, as the emulator holds it. Plain DOM: every piece of text
// from the server goes in through text nodes, never through innerHTML.
"use strict";

const GENERAL = 0; // the General topic has no message_thread_id; 0 stands for it here
const COLORS = { 7322096: "#6fb9f0", 16766590: "#ffd67e", 13338331: "#cb86db",
  9367192: "#8eee98", 16749490: "#ff93b2", 16478047: "#fb6f5f" };
const NAME_COLORS = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb"];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const view = {
  state: null,
  chatId: params.has("chat_id") ? Number(params.get("chat_id")) : null,
  thread: GENERAL,
  sender: null,
  replyTo: null,
  answersSeen: new Set(),
  firstAnswers: true,
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return ["http:", "https:", "mailto:", "tg:"].includes(parsed.protocol) ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

// -- Telegram entities to DOM ----------------------------------------------------------

function entityNode(entity, text) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const node = el("span", "spoiler");
      node.addEventListener("click", () => node.classList.add("shown"));
      return node;
    }
    case "pre": {
      const node = el("pre");
      if (entity.language) node.dataset.language = entity.language;
      return node;
    }
    case "text_link": case "url": case "email": {
      const raw = entity.type === "text_link" ? entity.url
        : entity.type === "email" ? "mailto:" + text : text;
      const href = safeUrl(entity.type === "url" && !/^[a-z]+:/i.test(raw) ? "http://" + raw : raw);
      if (!href) return el("span");
      const link = el("a");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    case "mention": case "hashtag": case "bot_command": case "cashtag":
      return el("span", entity.type);
    default: return el("span");
  }
}

function appendEntities(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const from = Math.max(entity.offset, pos);
    const to = Math.min(entity.offset + entity.length, end);
    let j = i + 1;
    const inner = [];
    while (j < entities.length && entities[j].offset < entity.offset + entity.length) {
      inner.push(entities[j]);
      j += 1;
    }
    if (from > pos) parent.append(text.slice(pos, from));
    if (to > from) {
      const node = entityNode(entity, text.slice(from, to));
      appendEntities(node, text, inner, from, to);
      parent.append(node);
      pos = to;
    }
    i = j;
  }
  if (end > pos) parent.append(text.slice(pos, end));
}

// Offsets are UTF-16 code units, which is exactly how JavaScript strings index.
function formatted(text, entities) {
  const body = el("div", "body");
  const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  appendEntities(body, text, sorted, 0, text.length);
  return body;
}

// -- the model -------------------------------------------------------------------------

function chat() { return view.state && view.state.chat; }
function isForum() { return Boolean(chat() && chat().is_forum); }
function threadOf(msg) { return msg.message_thread_id || GENERAL; }
function isService(msg) {
  return Boolean(msg.forum_topic_created || msg.forum_topic_edited || msg.forum_topic_closed
    || msg.forum_topic_reopened);
}
function authorName(user) {
  return user ? [user.first_name, user.last_name].filter(Boolean).join(" ") : "";
}
function snippet(msg) {
  if (msg.text) return msg.text;
  if (msg.caption) return msg.caption;
  if (msg.photo) return "Photo";
  if (msg.document) return msg.document.file_name || "File";
  if (msg.voice) return "Voice message";
  if (msg.audio) return msg.audio.title || msg.audio.file_name || "Audio";
  if (msg.video) return "Video";
  return isService(msg) ? serviceText(msg) : "Message";
}
function topicsInView() {
  if (!isForum()) return [{ message_thread_id: GENERAL, name: chat() ? chatTitle() : "", closed: false }];
  return [{ message_thread_id: GENERAL, name: "General", icon_color: 7322096, closed: false }]
    .concat(view.state.topics);
}
function chatTitle() {
  const c = chat();
  return c.title || authorName(c);
}
function seenKey(thread) { return `desk:seen:${chat().id}:${thread}`; }
function seen(thread) { return Number(localStorage.getItem(seenKey(thread)) || 0); }
function markSeen(thread, messageId) {
  if (messageId > seen(thread)) localStorage.setItem(seenKey(thread), String(messageId));
}
function messagesIn(thread) {
  return view.state.messages.filter((m) => threadOf(m) === thread);
}
function unread(thread) {
  const last = seen(thread);
  return messagesIn(thread).filter((m) => m.message_id > last && !isService(m)
    && m.from && m.from.id !== view.sender).length;
}
function currentTopic() {
  return topicsInView().find((t) => t.message_thread_id === view.thread) || topicsInView()[0];
}
function senderIsAdmin() {
  const me = view.state.members.find((m) => m.id === view.sender);
  return Boolean(me && (me.status === "creator" || me.status === "administrator"));
}

// -- rendering -------------------------------------------------------------------------

function renderChats() {
  const picker = $("chat-picker");
  picker.replaceChildren();
  for (const c of view.state.chats) {
    const option = el("option", null, c.title + (c.type === "private" ? " (private)" : ""));
    option.value = String(c.id);
    option.selected = chat() && c.id === chat().id;
    picker.append(option);
  }
  $("empty-world").hidden = view.state.chats.length > 0;
  const c = chat();
  $("chat-sub").textContent = !c ? "" : c.type === "private" ? "private chat with the bot"
    : `${view.state.members.length} members${c.is_forum ? " · topics" : ""}`;
}

function renderSenders() {
  const picker = $("sender");
  const people = view.state.members.filter((m) => !m.is_bot);
  if (!people.some((m) => m.id === view.sender)) {
    view.sender = people.length ? people[0].id : null;
  }
  picker.replaceChildren();
  for (const m of people) {
    const option = el("option", null, m.name);
    option.value = String(m.id);
    option.selected = m.id === view.sender;
    picker.append(option);
  }
}

function renderTopics() {
  const list = $("topics");
  list.replaceChildren();
  for (const topic of topicsInView()) {
    const thread = topic.message_thread_id;
    const item = el("li");
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", String(thread === view.thread));
    const icon = el("div", "topic-icon", thread === GENERAL && isForum() ? "#" : (topic.name || "?")[0]);
    icon.style.background = COLORS[topic.icon_color] || "#8e9ba8";
    const textBox = el("div", "topic-text");
    const name = el("div", "topic-name", topic.name);
    if (topic.closed) name.append(el("span", "lock", "closed"));
    const last = messagesIn(thread).slice(-1)[0];
    const sub = el("div", "sub", last ? `${authorName(last.from)}: ${snippet(last)}` : "");
    textBox.append(name, sub);
    item.append(icon, textBox);
    const count = unread(thread);
    if (count > 0 && thread !== view.thread) item.append(el("span", "badge hot", count));
    item.addEventListener("click", () => openTopic(thread));
    list.append(item);
  }
}

function renderHeader() {
  const topic = currentTopic();
  $("topic-title").textContent = topic ? topic.name : "";
  const count = messagesIn(view.thread).filter((m) => !isService(m)).length;
  $("topic-sub").textContent = `${count} message${count === 1 ? "" : "s"}${topic && topic.closed ? " · closed" : ""}`;
  const closed = Boolean(topic && topic.closed && !senderIsAdmin());
  $("closed-note").hidden = !closed;
  $("send-form").hidden = closed || view.sender === null;
}

function serviceText(msg) {
  if (msg.forum_topic_created) return `Topic “${msg.forum_topic_created.name}” created`;
  if (msg.forum_topic_edited) {
    return msg.forum_topic_edited.name ? `Topic renamed to “${msg.forum_topic_edited.name}”`
      : "Topic icon changed";
  }
  if (msg.forum_topic_closed) return `${authorName(msg.from)} closed the topic`;
  if (msg.forum_topic_reopened) return `${authorName(msg.from)} reopened the topic`;
  return "";
}

function nameColor(userId) { return NAME_COLORS[Math.abs(userId) % NAME_COLORS.length]; }

function renderQuote(msg) {
  const target = msg.reply_to_message;
  if (!target || target.message_id === msg.message_thread_id) return null;
  const quote = el("div", "quote");
  quote.append(el("div", "author", authorName(target.from)), el("div", "snippet", snippet(target)));
  quote.addEventListener("click", () => {
    const node = document.querySelector(`[data-message-id="${Number(target.message_id)}"]`);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 900);
  });
  return quote;
}

function fileLink(file, label) {
  const link = el("a", "doc");
  link.href = "/_sim/file/" + encodeURIComponent(file.file_id);
  const size = file.file_size ? ` · ${Math.ceil(file.file_size / 1024)} KB` : "";
  link.append(el("span", "doc-icon", "\u2193"), el("span", null, label + size));
  return link;
}

function duration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

// Photos show inline; every other file is a download link (the server sends those as
// attachments, so nothing a sender uploads ever renders in this page's origin).
function renderMedia(msg, box) {
  if (msg.photo && msg.photo.length) {
    const img = el("img", "photo");
    img.alt = "Photo";
    img.src = "/_sim/file/" + encodeURIComponent(msg.photo[msg.photo.length - 1].file_id);
    box.append(img);
  }
  if (msg.document) box.append(fileLink(msg.document, msg.document.file_name || "file"));
  if (msg.voice) box.append(fileLink(msg.voice, "Voice message · " + duration(msg.voice.duration)));
  if (msg.audio) {
    const title = [msg.audio.performer, msg.audio.title].filter(Boolean).join(" – ");
    box.append(fileLink(msg.audio, title || msg.audio.file_name || "Audio"));
  }
  if (msg.video) box.append(fileLink(msg.video, msg.video.file_name || "Video"));
  if (msg.caption) box.append(formatted(msg.caption, msg.caption_entities));
}

function renderKeyboard(msg) {
  const rows = msg.reply_markup && msg.reply_markup.inline_keyboard;
  if (!rows || !rows.length) return null;
  const keyboard = el("div", "keyboard");
  for (const row of rows) {
    const line = el("div", "row");
    for (const button of row) {
      const href = button.url ? safeUrl(button.url) : null;
      if (href) {
        const link = el("a", null, button.text + " ↗");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        line.append(link);
        continue;
      }
      const press = el("button", null, button.text);
      press.type = "button";
      if (button.callback_data === undefined) press.disabled = true;
      press.addEventListener("click", () => post("/_sim/press", {
        chat_id: chat().id, message_id: msg.message_id, user_id: view.sender,
        data: button.callback_data,
      }));
      line.append(press);
    }
    keyboard.append(line);
  }
  return keyboard;
}

function renderMessage(msg, previous) {
  if (isService(msg)) return el("div", "service", serviceText(msg));
  const mine = msg.from && msg.from.id === view.sender;
  const box = el("div", mine ? "msg mine" : "msg");
  box.dataset.messageId = String(msg.message_id);
  const albumNext = Boolean(msg.media_group_id && previous
    && previous.media_group_id === msg.media_group_id);
  if (msg.media_group_id) box.dataset.album = String(msg.media_group_id);
  if (albumNext) box.classList.add("album-next");
  if (!mine && !albumNext) {
    const author = el("div", "author", authorName(msg.from) + (msg.from && msg.from.is_bot ? " · bot" : ""));
    author.style.color = nameColor(msg.from ? msg.from.id : 0);
    box.append(author);
  }
  const quote = renderQuote(msg);
  if (quote) box.append(quote);
  renderMedia(msg, box);
  if (msg.text) box.append(formatted(msg.text, msg.entities));
  const keyboard = renderKeyboard(msg);
  if (keyboard) box.append(keyboard);
  const when = new Date(msg.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const meta = el("div", "meta", (msg.edit_date ? "edited " : "") + when);
  const reply = el("button", "reply-link", "Reply");
  reply.type = "button";
  reply.addEventListener("click", () => startReply(msg));
  meta.append(reply);
  box.append(meta);
  return box;
}

function renderMessages() {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const previous = list.dataset.thread;
  const shown = messagesIn(view.thread);
  list.replaceChildren(...shown.map((msg, i) => renderMessage(msg, shown[i - 1])));
  list.dataset.thread = String(view.thread);
  if (atBottom || previous !== String(view.thread)) list.scrollTop = list.scrollHeight;
  const last = messagesIn(view.thread).slice(-1)[0];
  if (last && document.visibilityState === "visible") markSeen(view.thread, last.message_id);
}

function renderAnswers() {
  for (const answer of view.state.answers) {
    if (view.answersSeen.has(answer.callback_query_id)) continue;
    view.answersSeen.add(answer.callback_query_id);
    if (view.firstAnswers || !answer.text || answer.user_id !== view.sender) continue;
    if (answer.show_alert) alert(answer.text);
    else toast(answer.text);
  }
  view.firstAnswers = false;
}

function render() {
  if (!view.state) return;
  if (!topicsInView().some((t) => t.message_thread_id === view.thread)) view.thread = GENERAL;
  renderChats();
  renderSenders();
  renderHeader();
  renderMessages();
  renderTopics();
  renderAnswers();
  renderReplying();
}

// -- actions ---------------------------------------------------------------------------

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 2500);
}

function showError(text) {
  $("error").textContent = text || "";
  $("error").hidden = !text;
}

async function post(path, body) {
  showError("");
  try {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  } catch (error) {
    showError(error.message);
    return null;
  }
}

function openTopic(thread) {
  view.thread = thread;
  view.replyTo = null;
  $("app").className = "show-chat";
  render();
  $("text").focus();
}

function startReply(msg) {
  view.replyTo = msg;
  renderReplying();
  $("text").focus();
}

function renderReplying() {
  const msg = view.replyTo;
  $("replying").hidden = !msg;
  if (!msg) return;
  document.querySelector(".replying-name").textContent = "Reply to " + authorName(msg.from);
  document.querySelector(".replying-snippet").textContent = snippet(msg);
}

async function send(event) {
  event.preventDefault();
  const box = $("text");
  const text = box.value;
  if (!text.trim() || view.sender === null || !chat()) return;
  const body = { chat_id: chat().id, user_id: view.sender, text };
  if (view.thread !== GENERAL) body.message_thread_id = view.thread;
  if (view.replyTo) body.reply_to_message_id = view.replyTo.message_id;
  $("send").disabled = true;
  const sent = await post("/_sim/send", body);
  $("send").disabled = false;
  if (sent) {
    box.value = "";
    box.style.height = "";
    view.replyTo = null;
    renderReplying();
  }
}

// -- staying live: /_sim/state long-polls until something changes ----------------------

let inflight = null;

async function poll() {
  for (;;) {
    const query = new URLSearchParams();
    const asked = view.chatId;
    if (asked !== null) query.set("chat_id", String(asked));
    if (view.state) query.set("after", String(view.state.version));
    inflight = new AbortController();
    try {
      const response = await fetch("/_sim/state?" + query.toString(),
        { cache: "no-store", signal: inflight.signal });
      if (!response.ok) throw new Error(response.statusText);
      const state = await response.json();
      if (asked !== view.chatId) continue; // the user switched chats meanwhile
      view.state = state;
      if (state.chat && view.chatId === null) view.chatId = state.chat.id;
      render();
    } catch (error) {
      if (error.name !== "AbortError") await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function switchChat(chatId) {
  view.chatId = chatId;
  view.thread = GENERAL;
  view.replyTo = null;
  view.state = null;
  const url = new URL(location.href);
  url.searchParams.set("chat_id", String(chatId));
  history.replaceState(null, "", url);
  if (inflight) inflight.abort(); // the poll loop asks again at once, for the new chat
}

$("send-form").addEventListener("submit", send);
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
});
$("text").addEventListener("input", (event) => {
  const box = event.target;
  box.style.height = "";
  box.style.height = Math.min(box.scrollHeight, 160) + "px";
});
$("sender").addEventListener("change", (event) => {
  view.sender = Number(event.target.value);
  render();
});
$("chat-picker").addEventListener("change", (event) => switchChat(Number(event.target.value)));
$("cancel-reply").addEventListener("click", () => { view.replyTo = null; renderReplying(); });
$("back").addEventListener("click", () => { $("app").className = "show-list"; });
$("seed").addEventListener("click", async () => {
  const seeded = await post("/_sim/seed", {});
  if (seeded) switchChat(seeded.chat_id);
});
document.addEventListener("visibilitychange", () => { if (view.state) render(); });
if (window.matchMedia("(min-width: 701px)").matches) $("app").className = "show-chat";
poll();
