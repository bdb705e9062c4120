"""The pre-chat form's answers, as they come with the patron's first message.

The widget shows the form the library configured (``[widget.prechat]``), but the
answers are checked here again, never trusted: a required field must be there, a topic
must be one of the library's (it becomes a tag on the conversation), a member number is
letters and digits. The member number is kept as typed; only the desk's /verify checks
it against the member directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.widget.frames import FrameError, profile_fields

__all__ = ["PrechatAnswers", "PrechatRules", "prechat_answers"]

_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
_TODAY = ("name", "email", "question")  # the after-hours form before [widget.prechat]
_MISSING = {"name": ("missing_name", "Please tell us your name."),
            "email": ("missing_email", "Please give your email address."),
            "member_number": ("missing_member_number", "Please give your member number."),
            "topic": ("missing_topic", "Please choose what your question is about.")}


@dataclass(frozen=True, slots=True)
class PrechatRules:
    """What the library asks (``WidgetSettings.prechat``): the fields, the required ones
    and the topics' tags."""

    fields: tuple[str, ...] = _TODAY
    required: tuple[str, ...] = _TODAY
    tags: frozenset[str] = frozenset()

    @classmethod
    def of(cls, public: Mapping[str, Any]) -> PrechatRules:
        """From ``WidgetSettings.prechat``; an empty one is today's after-hours form."""
        topics: Sequence[Mapping[str, str]] = public.get("topics", ())
        return cls(tuple(public.get("fields", _TODAY)), tuple(public.get("required", _TODAY)),
                   frozenset(t["tag"] for t in topics))

    def needs(self, name: str) -> bool:
        return name in self.required


@dataclass(frozen=True, slots=True)
class PrechatAnswers:
    name: str = ""
    email: str = ""
    member_number: str = ""
    topic: str = ""  # a configured tag, or ""


def prechat_answers(raw: Any, rules: PrechatRules, *, email_required: bool = True
                    ) -> PrechatAnswers:
    """A frame's ``prechat`` object, checked; FrameError with PROTOCOL.md's codes.
    Fields the library does not ask for are ignored; email is required only when the
    library sends mail (it is where the answer would go)."""
    if not isinstance(raw, dict):
        raise FrameError("bad_frame", "'prechat' must be an object.")
    asked = {k: raw.get(k, "") for k in ("name", "email", "member_number", "topic")}
    if not all(isinstance(v, str) for v in asked.values()):
        raise FrameError("bad_frame", "The pre-chat answers must be strings.")
    name, email = profile_fields({"name": asked["name"], "email": asked["email"]})
    answers = {"name": name, "email": email, "member_number": asked["member_number"].strip(),
               "topic": asked["topic"].strip()}
    answers = {k: (v if k in rules.fields else "") for k, v in answers.items()}
    for key, (code, message) in _MISSING.items():
        needed = key in rules.required and (key != "email" or email_required)
        if needed and not answers[key]:
            raise FrameError(code, message)
    number, topic = answers["member_number"], answers["topic"]
    if number and not _NUMBER.fullmatch(number):
        raise FrameError("bad_member_number",
                         "A member number is 1 to 32 letters and digits.")
    if topic and topic not in rules.tags:
        raise FrameError("bad_topic", "Please choose one of the topics offered.")
    return PrechatAnswers(answers["name"], answers["email"], number, topic)
