"""The link an email gives a patron to come back to their chat.

The page address comes from the patron's browser, so it is trusted only on the library's
own sites: a link in an email from the library must never lead somewhere a stranger chose.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["resume_link"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def resume_link(page_url: str, resume_token: str, *, allowed_origins: Iterable[str],
                home_url: str) -> str:
    """``page_url`` (without its own fragment) + ``#pustaka=<token>`` when the page is on
    an allowed origin (or on ``home_url``'s), else ``home_url`` with the fragment."""
    trusted = {_origin(o) for o in (*allowed_origins, home_url) if o}
    base = home_url
    try:
        parts = urlsplit(page_url.strip())
        if parts.scheme in ("http", "https") and _origin(page_url.strip()) in trusted:
            base = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    except ValueError:  # a malformed address from the browser: use the home page
        pass
    if not base:
        raise ValueError("no trusted page and no widget.home_url to link to")
    return f"{base.split('#', 1)[0]}#pustaka={resume_token}"
