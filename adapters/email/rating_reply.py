"""A patron's answer to the rating request by email: "5 thanks!" becomes a rating.

A mail is an answer to the rating request when it names that mail: its reply token is
the rating token of the request's Reply-To (``tokens.py``; it survives a client that
drops In-Reply-To, and the request's ``mailto:`` buttons), or its In-Reply-To is the
Message-ID of the request (linked to the "rating_request" message when it was sent).
It is a rating when the patron's new text is a digit 1 to 5 standing alone or marked as a
score ("5", "4/5", "5 - thanks!", "3 bintang, oke", "5. Great") and carries no files and
no question. A digit that begins a sentence ("3 copies of Laskar Pelangi, please", "1
more thing: ...", "2 books are missing?") is a message for a librarian, who can answer
it: the closing mail invites the patron to write again, and a request silently taken for
a score would be a patron forgotten. A rating is taken only from the conversation's own
patron.
"""

from __future__ import annotations

import re

from adapters.email.parse import ParsedMail
from adapters.email.rating_mail import RATING_EVENT
from adapters.email.thread import MailStore, RatingTokens, ReplyTokens
from routing.model import Channel, Contact

__all__ = ["rated_conversation", "read_rating"]

_RATING = re.compile(
    r"\A\s*(?P<score>[1-5])(?!\d|[.,:]\d|/\s*(?!5\b)\d)"  # not "12", "3:30", "4/12"
    r"(?:"
    r"\s*\Z"  # the digit alone
    r"|(?:\s*(?:/|of|dari)\s*5|\s*(?:stars?|bintang|\u2605+|\u2b50+))+"  # "4/5", "5 bintang"
    r"(?=\s|[.,;:!)\-\u2013\u2014]|\Z)"
    r"|\s*[.,;:!)\-\u2013\u2014]"  # "5 - thanks", "5. Great", "5! mantap"
    r")[\s.,;:!)\-\u2013\u2014]*(?P<comment>.*)\Z",
    re.S | re.I,
)


def read_rating(text: str) -> tuple[int, str] | None:
    """(score, comment) when ``text`` is a rating, else None."""
    found = _RATING.match(text)
    if found is None:
        return None
    comment = found.group("comment").strip()
    if "?" in comment:  # a question wants an answer, not a place in the figures
        return None
    return int(found.group("score")), comment


async def _requested_by(parsed: ParsedMail, store: MailStore, tokens: ReplyTokens | None) -> str:
    """The conversation whose rating request the mail answers, or ""."""
    if parsed.reply_token and isinstance(tokens, RatingTokens):
        found = tokens.rating_conversation_of(parsed.reply_token)
        if found:
            return found
    cited = parsed.in_reply_to or (parsed.references[-1] if parsed.references else "")
    link = await store.find_link(Channel.EMAIL.value, cited) if cited else None
    if link is None or not link.message_id:
        return ""
    message = await store.get_message(link.message_id)
    if (message is None or message.event != RATING_EVENT
            or message.conversation_id != link.conversation_id):
        return ""
    return link.conversation_id


async def rated_conversation(parsed: ParsedMail, store: MailStore,
                             tokens: ReplyTokens | None) -> tuple[str, int, str] | None:
    """(conversation id, score, comment) when the mail rates a conversation of its sender."""
    if any(not part.decoration for part in parsed.attachments):
        return None  # files are something to show a librarian
    rating = read_rating(parsed.text or parsed.full_text)
    if rating is None:
        return None
    conversation_id = await _requested_by(parsed, store, tokens)
    if not conversation_id:
        return None
    conversation = await store.get_conversation(conversation_id)
    patron = await store.patron_by_contact(Contact(Channel.EMAIL, parsed.from_address))
    if conversation is None or patron is None or conversation.patron_id != patron.id:
        return None  # someone else's request, forwarded or forged: not theirs to rate
    return conversation_id, rating[0], rating[1]
