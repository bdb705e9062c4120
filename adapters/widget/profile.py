"""The patron's name and email from the widget, and the code that proves the email.

A typed address is recorded unconfirmed (the router keeps it from anyone's email
contact); when the library sends mail, a one-time code goes to it, and the ``confirm_email``
frame with that code makes the router confirm it. The code mail carries nothing the
patron typed but the address itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.widget.frames import FrameError, profile_fields
from adapters.widget.prechat import PrechatAnswers
from routing.email_proof import EmailProofs
from routing.model import Contact
from routing.router import Router

__all__ = ["CodeMail", "ProfileSteps"]

log = logging.getLogger(__name__)

# (address, code, language): mail the code there, in the patron's language ("" unknown)
CodeMail = Callable[[str, str, str], Awaitable[None]]
_MAX_CODE = 20


class ProfileSteps:
    """``proofs`` and ``send_code`` together make addresses confirmable; without them
    (email off) an address is recorded and stays unconfirmed."""

    def __init__(self, router: Router, *, proofs: EmailProofs | None = None,
                 send_code: CodeMail | None = None) -> None:
        self._router = router
        self._proofs = proofs if send_code is not None else None
        self._send_code = send_code

    async def profile(self, contact: Contact, frame: dict[str, Any],
                      lang: str = "") -> dict[str, Any]:
        """``lang``: the widget's language, for the code mail."""
        name, email = profile_fields(frame)
        patron = await self._router.intake.identify(contact, name=name, email=email)
        sent = False
        if email and not patron.email_confirmed:
            sent = await self._mail_code(contact, patron.email, lang or patron.language)
        return {"type": "profile_saved", "email": patron.email,
                "email_confirmed": patron.email_confirmed, "code_sent": sent}

    async def prechat(self, contact: Contact, answers: PrechatAnswers,
                      lang: str = "") -> dict[str, Any]:
        """The pre-chat form's name, email and member number, kept like ``profile``'s
        (a typed address gets its code); answered as ``profile_saved``."""
        patron = await self._router.intake.identify(
            contact, name=answers.name, email=answers.email,
            member_number=answers.member_number)
        sent = False
        if answers.email and not patron.email_confirmed:
            sent = await self._mail_code(contact, patron.email, lang or patron.language)
        return {"type": "profile_saved", "email": patron.email,
                "email_confirmed": patron.email_confirmed, "code_sent": sent}

    async def confirm(self, contact: Contact, frame: dict[str, Any]) -> dict[str, Any]:
        code = frame.get("code")
        if not isinstance(code, str) or not 0 < len(code) <= _MAX_CODE:
            raise FrameError("bad_frame", "'code' must be the code from the email.")
        proved = None if self._proofs is None else await self._proofs.check(contact, code)
        intake = self._router.intake
        patron = None if proved is None else await intake.confirm_email(contact, proved)
        if patron is None:
            raise FrameError("bad_code", "That code is not right or has expired; "
                             "save your email again for a new one.")
        return {"type": "email_confirmed", "email": patron.email}

    async def _mail_code(self, contact: Contact, address: str, lang: str) -> bool:
        if self._proofs is None or self._send_code is None:
            return False
        code = await self._proofs.issue(contact, address)
        if code is None:
            return False  # this address or this patron had today's codes
        try:
            await self._send_code(address, code, lang)
        except Exception:  # the address stays saved; the patron may ask again
            log.warning("could not mail an address confirmation code", exc_info=True)
            return False
        return True
