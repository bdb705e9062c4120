"""``POST /widget/api/transcript``: "Email me this chat" for the HTTP fallback.

The same TranscriptStep as the socket's ``transcript`` frame, behind the same checks as
every other ``/widget/api/`` call (Origin, the visitor's bearer token, the visitor's
budget, which the step spends). A library that sends no mail has no step: the call is
answered 404 ``email_off`` with a sentence, after the Origin check, so the widget (whose
config already says ``email: false``) takes the button away.
"""

from __future__ import annotations

from aiohttp import web

from adapters.widget.frames import error_frame
from adapters.widget.http_api import Step, WidgetHttp

__all__ = ["TRANSCRIPT_PATH", "TranscriptHttp"]

TRANSCRIPT_PATH = "/widget/api/transcript"


class TranscriptHttp:
    """``step`` is the TranscriptStep, or None when the library sends no mail."""

    def __init__(self, http: WidgetHttp, step: Step | None) -> None:
        self._http = http
        self._step = step

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(TRANSCRIPT_PATH, self.http_transcript)

    async def http_transcript(self, request: web.Request) -> web.Response:
        """``transcript_sent``, or an error: 400 ``transcript_refused`` (``reason``
        ``no_email`` without a confirmed address), 403 ``not_yours``, 429, 401."""
        if self._step is None:
            self._http.check_origin(request)
            refused = error_frame("email_off", "This library does not send email.")
            return web.json_response(refused, status=404, headers=self._http.cors(request))
        return await self._http.http_step(request, self._step)
