"""Whether a mail's From address is vouched for by the library's receiving mail server.

Anyone can write any From. The receiving server checks SPF, DKIM and DMARC and records
what it found in an ``Authentication-Results`` field (RFC 8601) that it adds on top of
the mail, naming itself by its authserv-id. Only that field counts:

- a field naming another authserv-id was written by someone else, maybe the sender;
- a sender can also write a field naming *our* authserv-id into the mail they send. It
  sits below the one our server adds, so the topmost field naming our id is the one
  that counts and every later one is ignored. (RFC 8601 section 5 also asks the server
  to remove such fields; Postfix with OpenDMARC and rspamd do.)

A mail is *not verified* when that field says ``dmarc=fail``, or when SPF or DKIM
failed and nothing passed for the From address's domain. SPF ``softfail`` counts as a
failure: the domain's record says the sending host is not its own. A pass counts only
when it is for the From domain (DKIM ``header.d``, SPF ``smtp.mailfrom``), the same
domain or one inside the other, as DMARC's relaxed alignment roughly does: a forger's
DKIM signature for their own domain vouches for nothing. A mail with no such field
(the feature off, or a server that recorded nothing) is taken as today, as verified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["UNVERIFIED_PREFIX", "Result", "Verdict", "parse_results", "sender_verdict",
           "unverified_address"]

UNVERIFIED_PREFIX = "unverified:"
_FIELD_CHARS = 8192  # of one field: more is not a server's record
_KEY_VALUE = re.compile(r"([A-Za-z0-9_.\-/]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s\"]+)")
_SPF_FAIL = {"fail", "softfail"}


@dataclass(frozen=True, slots=True)
class Result:
    """One method's result: ``spf=fail smtp.mailfrom=x`` is ("spf", "fail", {...})."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


@dataclass(frozen=True, slots=True)
class Verdict:
    verified: bool
    reason: str = ""  # what decided it, for the log and the desk ("dmarc=fail")


def unverified_address(address: str) -> str:
    """The contact a not-verified sender writes as: never the address's owner's."""
    return UNVERIFIED_PREFIX + address


def _without_comments(text: str) -> str:
    """The field with its (nested) comments removed, quoted strings left alone."""
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for ch in text[:_FIELD_CHARS]:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
            continue
        elif not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


def _split(text: str) -> list[str]:
    """The field's ``;``-separated parts, a ``;`` inside quotes not splitting."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def parse_results(field: str) -> tuple[str, list[Result]]:
    """(authserv-id in lower case, the results) of one Authentication-Results field."""
    parts = _split(_without_comments(field))
    head = parts[0].split()
    authserv_id = head[0].strip('"').lower() if head else ""
    results = []
    for part in parts[1:]:
        pairs = [(k.lower(), v.strip('"')) for k, v in _KEY_VALUE.findall(part)]
        if not pairs:
            continue  # "none", or nothing readable
        (method, result), rest = pairs[0], pairs[1:]
        results.append(Result(method.split("/", 1)[0], result.lower(), tuple(rest)))
    return authserv_id, results


def _ours(fields: Iterable[str], trusted_id: str) -> list[Result] | None:
    """The results of the topmost field our receiving server wrote, if any."""
    wanted = trusted_id.strip().lower()
    for field in fields:
        authserv_id, results = parse_results(field)
        if authserv_id == wanted:
            return results
    return None


def _domain(value: str) -> str:
    return value.rsplit("@", 1)[-1].strip().strip(".").lower()


def _aligned(domain: str, sender: str) -> bool:
    return bool(domain) and (domain == sender or domain.endswith("." + sender)
                             or sender.endswith("." + domain))


def _vouches(result: Result, sender: str) -> bool:
    """A pass for the From address's own domain."""
    if result.result != "pass":
        return False
    if result.method == "dkim":
        return _aligned(_domain(result.get("header.d") or result.get("header.i")), sender)
    if result.method == "spf":
        return _aligned(_domain(result.get("smtp.mailfrom") or result.get("smtp.helo")), sender)
    return False


def sender_verdict(fields: Sequence[str], trusted_id: str, from_address: str) -> Verdict:
    """Whether the From address of a mail with these Authentication-Results fields (top
    first) may be taken as its sender. ``trusted_id`` "" checks nothing."""
    if not trusted_id.strip():
        return Verdict(True, "not checked")
    results = _ours(fields, trusted_id)
    if results is None:
        return Verdict(True, "no result recorded")
    sender = _domain(from_address)
    dmarc = [r for r in results if r.method == "dmarc"]
    if any(r.result == "fail" for r in dmarc):
        return Verdict(False, "dmarc=fail")
    if any(r.result == "pass" and _aligned(_domain(r.get("header.from") or sender), sender)
           for r in dmarc):
        return Verdict(True, "dmarc=pass")
    if any(_vouches(r, sender) for r in results):
        return Verdict(True, "aligned pass")
    failed = [f"{r.method}={r.result}" for r in results
              if (r.method == "spf" and r.result in _SPF_FAIL)
              or (r.method == "dkim" and r.result == "fail")]
    if failed:
        return Verdict(False, ", ".join(failed))
    return Verdict(True, "nothing failed")
