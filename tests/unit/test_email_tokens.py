"""Signed reply tokens in ``help+<token>@``: round trip, case, forgery."""

from __future__ import annotations

import pytest

from adapters.email.parse import parse_email
from adapters.email.tokens import ReplyTokens

SECRET = "corpus-secret-0123456789abcdef"
CONVERSATION = "018fdc6a1b2c0000ab12"  # routing.model.new_id()'s shape


@pytest.fixture
def tokens() -> ReplyTokens:
    return ReplyTokens(SECRET)


class TestTokens:
    def test_round_trip(self, tokens: ReplyTokens) -> None:
        """A token gives back the conversation id it was made for."""
        assert tokens.conversation_of(tokens.token_for(CONVERSATION)) == CONVERSATION

    def test_other_ids_round_trip(self, tokens: ReplyTokens) -> None:
        """Ids that are not hex (tests, other stores) round-trip too."""
        for conversation in ("c-42", "Conv_7", "018FDC6A"):
            assert tokens.conversation_of(tokens.token_for(conversation)) == conversation

    def test_fits_a_local_part(self, tokens: ReplyTokens) -> None:
        """The token is lowercase base32 and short enough for a 64-octet local part."""
        token = tokens.token_for(CONVERSATION)
        assert token == token.lower() and token.isalnum() and len(token) == 33

    def test_lowercased_or_uppercased(self, tokens: ReplyTokens) -> None:
        """A mail server changing the local part's case does not break the token."""
        token = tokens.token_for(CONVERSATION)
        assert tokens.conversation_of(token.upper()) == CONVERSATION

    def test_corpus_token(self, tokens: ReplyTokens) -> None:
        """The token in the corpus mails was made with the corpus secret."""
        assert tokens.conversation_of("hagh5y2q3fqaabkys7umyrazqqrekgcri") == CONVERSATION

    def test_edited_token_refused(self, tokens: ReplyTokens) -> None:
        """Changing one character anywhere in a token makes it worthless."""
        token = tokens.token_for(CONVERSATION)
        for at in range(len(token)):
            edited = token[:at] + ("a" if token[at] != "a" else "b") + token[at + 1 :]
            assert tokens.conversation_of(edited) is None

    def test_other_conversation_forged(self, tokens: ReplyTokens) -> None:
        """Someone else's conversation id with a made-up signature is refused."""
        mine = tokens.token_for(CONVERSATION)
        theirs = tokens.token_for("018fdc6a1b2c0001cd34")
        assert tokens.conversation_of(theirs[:-16] + mine[-16:]) is None

    def test_other_secret_refused(self, tokens: ReplyTokens) -> None:
        """A token signed with another server's secret is refused."""
        foreign = ReplyTokens("another-secret-0123456789").token_for(CONVERSATION)
        assert tokens.conversation_of(foreign) is None

    @pytest.mark.parametrize("junk", ["", "h", "x" * 300, "hé" + "a" * 30, "h!!", "s" * 17])
    def test_junk_refused(self, tokens: ReplyTokens, junk: str) -> None:
        """Empty, overlong, non-ASCII or ill-formed tokens are refused without error."""
        assert tokens.conversation_of(junk) is None

    def test_short_secret_refused(self) -> None:
        """A secret under 16 characters is a configuration error."""
        with pytest.raises(ValueError, match="at least 16"):
            ReplyTokens("short")


class TestTokenInMail:
    @pytest.mark.parametrize("field", ["To", "Cc", "Delivered-To", "X-Original-To"])
    def test_found_in(self, tokens: ReplyTokens, field: str) -> None:
        """The token is read from To, Cc, Delivered-To or X-Original-To."""
        token = tokens.token_for(CONVERSATION)
        raw = (f"From: ani@example.com\r\n{field}: Library <HELP+{token.upper()}@library.example>"
               "\r\nSubject: x\r\n\r\nhi\r\n").encode()
        found = parse_email(raw, reply_local_part="help").reply_token
        assert found is not None and tokens.conversation_of(found) == CONVERSATION

    def test_other_local_part_ignored(self, tokens: ReplyTokens) -> None:
        """A plus address of another mailbox is not our token."""
        raw = (f"From: ani@example.com\r\nTo: ani+{tokens.token_for(CONVERSATION)}@example.com"
               "\r\nSubject: x\r\n\r\nhi\r\n").encode()
        assert parse_email(raw, reply_local_part="help").reply_token is None
