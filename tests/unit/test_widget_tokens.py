"""Visitor, resume and file signatures stay what earlier releases wrote, so tokens kept
in browsers and links in old emails keep working across an upgrade."""

from __future__ import annotations

from adapters.widget.tokens import VisitorTokens

SECRET = "a-test-secret-of-enough-length"
VISITOR = "0123456789abcdef01234567"


class TestSignatures:
    def test_tokens_are_the_ones_earlier_releases_issued(self) -> None:
        """Known answers (written by the release before the keyed-once HMAC) for every
        kind of signature, and each reads back."""
        tokens = VisitorTokens(SECRET)
        v1 = f"v1.{VISITOR}.4d1b8c86bf86bb078dc542df326badfb"
        v2 = f"v2.{VISITOR}.3.60dcd15f968e08c506bbd2955fb67f4b"
        resume = f"r1.{VISITOR}.1700000060.939cd9b24a7cc4f9d18b4de8d5891120"
        assert (tokens.token_for(VISITOR), tokens.token_for(VISITOR, 3)) == (v1, v2)
        assert tokens.resume_token(VISITOR, 60, now=1_700_000_000) == resume
        assert tokens.file_signature(VISITOR, "d" * 64) == "b844d577cc655c840f20c74b4675d1db"
        assert (tokens.read(v1), tokens.read(v2)) == ((VISITOR, 0), (VISITOR, 3))
        assert tokens.verify_resume(resume, now=1_700_000_000) == VISITOR

    def test_one_signature_does_not_leak_into_the_next(self) -> None:
        """Signing many bodies one after another gives each its own signature, as a
        fresh key would: the keyed state is copied, never signed into."""
        tokens = VisitorTokens(SECRET)
        first = tokens.token_for(VISITOR)
        for n in range(5):
            tokens.token_for(f"{VISITOR[:-1]}{n}")
            tokens.file_signature(VISITOR, str(n))
        assert tokens.token_for(VISITOR) == first
        assert VisitorTokens(SECRET).read(first) == (VISITOR, 0)

    def test_an_edited_token_is_refused(self) -> None:
        """A token whose visitor, generation or signature was changed reads as None."""
        tokens = VisitorTokens(SECRET)
        good = tokens.token_for(VISITOR, 2)
        _, visitor, generation, mac = good.split(".")
        for bad in (f"v2.{visitor[:-1]}8.{generation}.{mac}", f"v2.{visitor}.3.{mac}",
                    f"v2.{visitor}.{generation}.{mac[:-1]}0", f"v1.{visitor}.{mac}"):
            assert tokens.read(bad) is None
