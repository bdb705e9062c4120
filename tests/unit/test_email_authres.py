"""Which From addresses the library's receiving mail server vouches for (RFC 8601)."""

from __future__ import annotations

from pathlib import Path

from adapters.email.authres import parse_results, sender_verdict
from adapters.email.parse import parse_email

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
MX = "mx.library.example"
SITI = "siti.rahma@example.id"


def fields(name: str) -> tuple[str, ...]:
    return parse_email((CORPUS / name).read_bytes()).authentication_results


def verified(*found: str, trusted: str = MX, sender: str = SITI) -> bool:
    return sender_verdict(found, trusted, sender).verified


class TestCorpus:
    def test_genuine_mail_passes(self) -> None:
        """A mail our server found dmarc=pass for its From domain is verified."""
        assert verified(*fields("genuine_dmarc_pass.eml"))

    def test_forged_mail_fails_despite_a_pass_written_below_by_the_sender(self) -> None:
        """Only the topmost field with our authserv-id counts: the forger's own "pass"
        with our id under it, and one from another server, change nothing."""
        found = fields("forged_dmarc_fail.eml")
        assert len(found) == 3 and found[0].startswith(MX)
        verdict = sender_verdict(found, MX, SITI)
        assert not verdict.verified and verdict.reason == "dmarc=fail"

    def test_a_forgers_own_dkim_signature_vouches_for_nothing(self) -> None:
        """SPF softfail with only a DKIM pass for another domain is not verified."""
        verdict = sender_verdict(fields("forged_spf_fail_foreign_dkim.eml"), MX, SITI)
        assert not verdict.verified and "spf=softfail" in verdict.reason

    def test_mail_without_our_field_is_taken_as_before(self) -> None:
        """No field from our server (or the check switched off): the From is believed."""
        assert verified(*fields("gmail_reply_en.eml"))
        assert verified(*fields("forged_dmarc_fail.eml"), trusted="")


class TestRules:
    def test_field_of_another_server_is_ignored(self) -> None:
        """A fail recorded by a server we do not trust decides nothing."""
        assert verified("relay.example; dmarc=fail header.from=example.id")
        assert not verified("relay.example; dmarc=pass", f"{MX}; dmarc=fail")

    def test_a_pass_for_the_from_domain_outweighs_another_failure(self) -> None:
        """Forwarded mail breaks SPF but keeps the author's DKIM signature: verified."""
        assert verified(f"{MX}; spf=fail smtp.mailfrom=list.example; "
                        "dkim=pass header.d=mail.example.id")

    def test_nothing_failed_means_verified(self) -> None:
        """Neutral or missing results are no evidence of forgery."""
        assert verified(f"{MX}; spf=neutral smtp.mailfrom=example.id; dkim=none")
        assert verified(f"{MX} 1; none")

    def test_comments_quotes_and_case_are_read(self) -> None:
        """Comments (nested too), quoted values, versions and upper case parse."""
        authserv_id, results = parse_results(
            'MX.Library.Example 1; DKIM/1=Fail (bad (really) sig; x) header.d="example.id"; '
            "spf=pass smtp.mailfrom=other.example")
        assert authserv_id == MX
        assert [(r.method, r.result) for r in results] == [("dkim", "fail"), ("spf", "pass")]
        assert results[0].get("header.d") == "example.id"

    def test_garbage_never_raises(self) -> None:
        """A hostile field gives no verdict against the sender and no exception."""
        for field in ("", ";;;", "(((", f"{MX}; =", f'{MX}; dmarc="fail', "x" * 20_000):
            sender_verdict((field,), MX, SITI)
