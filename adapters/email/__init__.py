"""The email channel: patrons write to the help address, librarians answer by email.

Pure conversion lives here (``parse_email`` for received mail, ``compose_reply`` and
``compose_ack`` for sent mail, ``ReplyTokens`` for the signed ``help+<token>@`` reply
address); IMAP and SMTP I/O live beside it and use these.
"""

from adapters.email.autoreply import AutoKind
from adapters.email.compose import OutgoingAttachment, compose_ack, compose_reply
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
    "parse_email",
]
