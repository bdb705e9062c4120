"""The email channel: patrons write to the help address, librarians answer by email.

Pure conversion lives here (``parse_email`` for received mail, ``compose_reply`` and
``compose_ack`` for sent mail with ``delivery_message_id`` for its Message-ID,
``ReplyTokens`` for the signed ``help+<token>@`` reply address); IMAP and SMTP I/O live
beside it and use these.
"""

from adapters.email.autoreply import AutoKind
from adapters.email.compose import (
    OutgoingAttachment,
    compose_ack,
    compose_reply,
    delivery_message_id,
)
from adapters.email.parse import ParsedAttachment, ParsedMail, parse_email
from adapters.email.tokens import ReplyTokens

__all__ = [
    "AutoKind",
    "OutgoingAttachment",
    "ParsedAttachment",
    "ParsedMail",
    "ReplyTokens",
    "compose_ack",
    "compose_reply",
    "delivery_message_id",
    "parse_email",
]
