"""Property-based fuzzing of the widget's frame reading: any text in, a FrameError or a
valid frame out. Budget: 100 examples a property, a few seconds in all;
derandomized in CI (CI set), so a run is repeatable."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.widget.frames import (
    FrameError,
    OfflineQuestion,
    Rating,
    client_id,
    error_frame,
    offline_question,
    rating,
    valid_email,
)
from adapters.widget.server import _cid_of, _decode

FUZZ = settings(max_examples=100, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow])

# JSON values as a browser (or a script) could send them, including lone surrogates
# written as \ud800 escapes, which json.loads turns into str.
_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
            | st.text(max_size=80) | st.sampled_from(["\ud800", "a\udfffb", "x@y.z",
                                                       "\u202e", "\r\n", "0" * 65]))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=12)
_KEYS = st.sampled_from(["type", "cid", "text", "name", "email", "score", "comment",
                         "conversation", "token", "page"])
_FRAMES = st.dictionaries(_KEYS | st.text(max_size=8), _JSON, max_size=8)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)  # escapes, so surrogates survive


@FUZZ
@given(st.text(max_size=400) | _FRAMES.map(_json_text) | _JSON.map(_json_text))
@example('{"type": "send", "cid": "\\ud800"}')
@example('{"type": 1}')
@example("1e999999")
@example('{"type": "hello"' + ", " * 10 + "}")
def test_decode_refuses_cleanly_or_gives_a_frame(data: str) -> None:
    """_decode gives a dict with a string 'type' or raises FrameError; nothing else."""
    try:
        frame = _decode(data)
    except FrameError as exc:
        assert exc.code in {"bad_frame", "too_big"} and str(exc)
    else:
        assert isinstance(frame, dict) and isinstance(frame["type"], str)
    cid = _cid_of(data)  # the error frame's cid lookup must not fail either
    json.dumps(error_frame("bad_frame", "x", cid))


@FUZZ
@given(st.binary(max_size=300))
def test_bytes_as_text_refuse_cleanly(raw: bytes) -> None:
    """Any bytes a socket could deliver as text (decoded with replacement) are read or refused."""
    data = raw.decode("utf-8", errors="replace")
    try:
        _decode(data)
    except FrameError:
        pass


@FUZZ
@given(_FRAMES)
@example({"cid": "c", "name": "Ani", "email": "ani@example.org", "text": "hi"})
@example({"cid": "c", "name": "\ud800", "email": "a@b.co", "text": "x"})
def test_offline_form_refuses_cleanly_or_is_valid(frame: dict[str, Any]) -> None:
    """The offline form is a clean OfflineQuestion (header-safe name and email) or refused."""
    try:
        question = offline_question(frame)
    except FrameError as exc:
        assert exc.code and str(exc)
        return
    assert isinstance(question, OfflineQuestion)
    assert 0 < len(question.cid) <= 64 and question.text.strip()
    assert valid_email(question.email) and "\n" not in question.name
    assert "\r" not in question.name and question.name == question.name.strip()


@FUZZ
@given(_FRAMES)
@example({"score": True})
@example({"score": 5, "comment": None, "conversation": None})
def test_rating_refuses_cleanly_or_is_valid(frame: dict[str, Any]) -> None:
    """A rating is a whole score 1-5 with a short string comment, or refused."""
    try:
        given_rating = rating(frame)
    except FrameError as exc:
        assert exc.code and str(exc)
        return
    assert isinstance(given_rating, Rating) and 1 <= given_rating.score <= 5
    assert isinstance(given_rating.comment, str) and len(given_rating.comment) <= 1000
    assert isinstance(given_rating.conversation_id, str)


@FUZZ
@given(_FRAMES)
def test_client_id_refuses_cleanly(frame: dict[str, Any]) -> None:
    """client_id is a 1-64 character string or a FrameError."""
    try:
        cid = client_id(frame)
    except FrameError:
        return
    assert isinstance(cid, str) and 0 < len(cid) <= 64


def test_deeply_nested_frame_is_refused() -> None:
    """8,000 nested '[' are refused as a bad frame, not raised as RecursionError."""
    with pytest.raises(FrameError):
        _decode("[" * 8000)


def test_cid_of_deeply_nested_frame() -> None:
    """The error frame's cid lookup survives a deeply nested frame."""
    assert _cid_of('{"cid": "c1", "x": ' + "[" * 8000 + "]" * 8000 + "}") == "c1"
