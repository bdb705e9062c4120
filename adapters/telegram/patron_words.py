"""What the bot says to a patron in their private chat, in English or Indonesian.

Pure: no I/O. Everything that came from a person (a librarian's name and text) is
escaped for Telegram's HTML parse mode, so ``<b>`` typed by anyone arrives as text.
"""

from __future__ import annotations

import html

from routing.model import Message

__all__ = [
    "DESK_BLOCKED",
    "DESK_UNBLOCKED",
    "LANGUAGES",
    "language",
    "librarian_html",
    "parse_rating",
    "rating_buttons",
    "say",
    "stars",
    "system_html",
]

LANGUAGES = ("en", "id")
RATE = "rate"  # callback data: "rate:<conversation id>:<score>"
_TEXT_ROOM = 4096 - 200  # Telegram's 4,096 characters, less room for the name line
# lines for the desk (in the librarians' language, English)
DESK_BLOCKED = ("🚫 The patron blocked the bot on Telegram: nothing reaches them there "
                "until they write to it again.")
DESK_UNBLOCKED = "✅ The patron started the bot again on Telegram: replies reach them."

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "claimed": "{name} is answering.",
        "closed": "This conversation is closed. Write here any time to ask again.",
        "rating_request": "How did we do? Rate this conversation from 1 to 5.",
        "reopened": "Your conversation is open again; a librarian will answer here.",
        "rated": "Thank you! You rated us {stars}.\n"
                 "If you like, reply to this message with a comment.",
        "rated_short": "Thank you for your rating!",
        "rating_refused": "This conversation cannot be rated now.",
        "comment_thanks": "Thank you, we have passed your comment on.",
        "too_long": "Your message is too long for us to pass on; "
                    "please send it in shorter parts.",
        "too_many_files": "That is more files than we can take at once; "
                          "please send at most 10 together.",
        "empty": "Sorry, we can only pass on text, photos, documents and voice messages.",
        "edited": "(edited)",
        "file_too_big": "Sorry, {name} is too large for us (the limit is {limit}). "
                        "The librarians can see that you tried to send it.",
        "file_type": "Sorry, we cannot take files like {name}. "
                     "The librarians can see that you tried to send it.",
        "files_off": "Sorry, we cannot take files here. "
                     "The librarians can see that you tried to send {name}.",
        "file_failed": "Sorry, {name} did not reach us. Please send it again.",
        "file_unsent": "could not be sent here; please ask the librarian for it",
        "withdrawn": "A librarian withdrew an earlier message.",
    },
    "id": {
        "claimed": "{name} sedang menjawab.",
        "closed": "Percakapan ini sudah ditutup. Tulis di sini kapan saja untuk bertanya lagi.",
        "rating_request": "Bagaimana layanan kami? Beri nilai percakapan ini dari 1 sampai 5.",
        "reopened": "Percakapan Anda dibuka kembali; pustakawan akan menjawab di sini.",
        "rated": "Terima kasih! Nilai Anda: {stars}.\n"
                 "Jika berkenan, balas pesan ini dengan komentar.",
        "rated_short": "Terima kasih atas penilaian Anda!",
        "rating_refused": "Percakapan ini tidak dapat dinilai sekarang.",
        "comment_thanks": "Terima kasih, komentar Anda sudah kami teruskan.",
        "too_long": "Pesan Anda terlalu panjang untuk diteruskan; "
                    "kirimkan dalam beberapa bagian yang lebih pendek.",
        "too_many_files": "Terlalu banyak berkas sekaligus; kirimkan paling banyak 10 "
                          "berkas bersamaan.",
        "empty": "Maaf, kami hanya dapat meneruskan teks, foto, dokumen, dan pesan suara.",
        "edited": "(diedit)",
        "file_too_big": "Maaf, {name} terlalu besar (batasnya {limit}). "
                        "Pustakawan dapat melihat bahwa Anda mencoba mengirimnya.",
        "file_type": "Maaf, kami tidak dapat menerima berkas seperti {name}. "
                     "Pustakawan dapat melihat bahwa Anda mencoba mengirimnya.",
        "files_off": "Maaf, kami tidak dapat menerima berkas di sini. "
                     "Pustakawan dapat melihat bahwa Anda mencoba mengirim {name}.",
        "file_failed": "Maaf, {name} tidak sampai kepada kami. Silakan kirim lagi.",
        "file_unsent": "tidak dapat dikirim di sini; silakan minta kepada pustakawan",
        "withdrawn": "Pustakawan menarik kembali pesan sebelumnya.",
    },
}


def language(code: str | None) -> str:
    """"id" for an Indonesian Telegram app (language_code "id", "id-ID"), else "en"."""
    return "id" if (code or "").lower().split("-")[0] in ("id", "in") else "en"


def say(key: str, lang: str, **values: str) -> str:
    """A plain-text sentence (not yet escaped)."""
    words = _WORDS.get(lang, _WORDS["en"])
    return words[key].format(**values)


def librarian_html(name: str, text: str, *, edited: bool = False, lang: str = "en") -> str:
    """A librarian's reply: their name in bold, then the text, both escaped."""
    body = text if len(text) <= _TEXT_ROOM else text[: _TEXT_ROOM - 1] + "…"
    mark = f" <i>{say('edited', lang)}</i>" if edited else ""
    head = f"<b>{_e(name)}</b>{mark}\n" if name else (f"{mark.strip()}\n" if mark else "")
    return f"{head}{_e(body)}"


def system_html(message: Message, lang: str) -> str:
    """A status line worded for the patron; an unknown event shows the router's text."""
    event = message.event
    if event == "claimed":
        return f"<i>{_e(say('claimed', lang, name=message.author or '…'))}</i>"
    if event in ("closed", "rating_request", "reopened"):
        return _e(say(event, lang))
    return f"<i>{_e(message.text)}</i>"


def stars(score: int) -> str:
    return "\u2605" * score + "\u2606" * (5 - score)


def rating_buttons(conversation_id: str) -> list[list[tuple[str, str]]]:
    """One row of (label, callback_data); the data stays far inside Telegram's 64 bytes."""
    return [[(f"{n} \u2605", f"{RATE}:{conversation_id}:{n}") for n in range(1, 6)]]


def parse_rating(data: str | None) -> tuple[str, int] | None:
    """(conversation id, score) from a rating button's data; None for anything else."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != RATE or not parts[1] or len(parts[1]) > 40:
        return None
    if parts[2] not in ("1", "2", "3", "4", "5"):
        return None
    return parts[1], int(parts[2])


def _e(text: str) -> str:
    return html.escape(text, quote=False)
