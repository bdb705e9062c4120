"""The emulator against the real Bot API's recorded answers (tests/data/telegram_errors.json).

Each reproduced corpus entry is sent to the emulator by the real python-telegram-bot
client; its transport records the raw answer, so the test compares the exact
``error_code``, ``description`` and ``parameters`` and also that PTB raises the error
class it raises for Telegram's answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest, RequestData

from adapters.telegram.emulator import BotApiEmulator
from tests.eventually import eventually

CORPUS = Path(__file__).resolve().parents[1] / "data" / "telegram_errors.json"
ENTRIES: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["entries"]
REPRODUCED = [e for e in ENTRIES if "not_reproduced" not in e]
TOKEN = "123456:TEST"
BOT_POST = "Welcome to the library chat."
# what python-telegram-bot raises for each error_code Telegram answers with
PTB_ERRORS: dict[int, type[TelegramError]] = {
    400: BadRequest, 401: InvalidToken, 403: Forbidden, 404: InvalidToken, 409: Conflict,
    429: RetryAfter}


class RecordingRequest(HTTPXRequest):
    """PTB's own HTTP transport, keeping every raw answer it received."""

    def __init__(self) -> None:
        super().__init__(read_timeout=30)
        self.answers: list[tuple[int, bytes]] = []

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        answer = await super().do_request(url, method, request_data, *args, **kwargs)
        self.answers.append(answer)
        return answer


class Scene:
    """The world an entry's request meets, built on first mention of each placeholder."""

    def __init__(self, emulator: BotApiEmulator, url: str, bot: Bot) -> None:
        self.emulator = emulator
        self.url = url
        self.bot = bot
        self._made: dict[str, Any] = {}
        self._makers: dict[str, Callable[[], Awaitable[Any]]] = {
            name.removeprefix("_make_"): getattr(self, name)
            for name in dir(self) if name.startswith("_make_")}

    async def value(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = await self._makers[name]()
        return self._made[name]

    async def resolve(self, raw: Any) -> Any:
        """The request's parameters with every ``$placeholder`` replaced by its value."""
        if isinstance(raw, str) and raw.startswith("$"):
            return await self.value(raw[1:])
        if isinstance(raw, dict) and "$repeat" in raw:
            text, times = raw["$repeat"]
            return text * times
        if isinstance(raw, dict):
            return {key: await self.resolve(value) for key, value in raw.items()}
        return raw

    async def apply(self, step: str) -> None:
        desk = await self.value("desk")
        if step == "bot_cannot_manage_topics":
            self.emulator.set_bot_rights(desk, can_manage_topics=False)
        elif step == "bot_cannot_delete_messages":
            self.emulator.set_bot_rights(desk, can_delete_messages=False)
        elif step == "twenty_posts_into_desk":
            for n in range(20):
                await self.bot.send_message(desk, f"Queued patron message {n + 1}")
        else:
            raise AssertionError(f"unknown setup step {step!r} in the corpus")

    # -- the placeholders -------------------------------------------------------------

    async def _make_desk(self) -> int:
        return self.emulator.seed_demo_desk()

    async def _make_librarian(self) -> int:
        desk = await self.value("desk")
        return next(m["user"]["id"] for m in self.emulator.members(desk)
                    if m["user"]["first_name"] == "Sari")

    async def _new_topic(self, name: str) -> int:
        topic = await self.bot.create_forum_topic(await self.value("desk"), name)
        return topic.message_thread_id

    async def _make_topic(self) -> int:
        return await self._new_topic("Reading room")

    async def _make_closed_topic(self) -> int:
        thread = await self._new_topic("Closed on Sunday")
        await self.bot.close_forum_topic(await self.value("desk"), thread)
        return thread

    async def _make_deleted_topic(self) -> int:
        thread = await self._new_topic("Finished conversation")
        self.emulator.delete_topic(await self.value("desk"), thread)
        return thread

    async def _make_bot_post(self) -> int:
        return (await self.bot.send_message(await self.value("desk"), BOT_POST)).message_id

    async def _make_librarian_post(self) -> int:
        posted = self.emulator.user_sends(await self.value("desk"), await self.value("librarian"),
                                          "I can take this one.")
        return int(posted["message_id"])

    async def _make_patron(self) -> int:
        patron = self.emulator.add_user("Dewi", last_name="Lestari")
        self.emulator.user_sends(patron, patron, "/start")
        return patron

    async def _make_blocked_patron(self) -> int:
        patron = self.emulator.add_user("Rina", last_name="Hartono")
        self.emulator.user_sends(patron, patron, "/start")
        self.emulator.block_bot(patron)
        return patron

    async def _make_stranger(self) -> int:
        return self.emulator.add_user("Agus")

    async def _make_other_bot(self) -> int:
        return self.emulator.add_user("Katalog", username="katalog_bot", is_bot=True)

    async def _make_kicked_desk(self) -> int:
        group = self.emulator.create_group("Old desk")
        self.emulator.add_member(group, self.emulator.bot_id, "kicked")
        return group

    async def _make_left_desk(self) -> int:
        group = self.emulator.create_group("Branch desk we left")
        self.emulator.add_member(group, self.emulator.bot_id, "left")
        return group

    async def _make_plain_group(self) -> int:
        return self.emulator.create_group("Front office", forum=False)

    async def _make_no_rights_desk(self) -> int:
        group = self.emulator.create_group("Branch desk")
        self.emulator.set_bot_rights(group, can_manage_topics=False)
        return group

    async def _make_big_file(self) -> str:
        scan = b"%PDF-1.7\n" + bytes(21 * 1024 * 1024)
        posted = self.emulator.user_sends_file(await self.value("desk"),
                                               await self.value("librarian"), "thesis.pdf", scan)
        return str(posted["document"]["file_id"])


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's coming ``RetryAfter.retry_after`` type instead of its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    emulator = BotApiEmulator(clock=lambda: 0.0)  # time stands still: flood waits are exact
    url = await emulator.start()
    try:
        async with Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot") as bot:
            yield Scene(emulator, url, bot)
    finally:
        await emulator.stop()


async def _replay(scene: Scene, entry: dict[str, Any]) -> tuple[TelegramError, int, Any]:
    """Send the entry's request as PTB does; what PTB raised and the raw answer."""
    request = entry["request"]
    params = await scene.resolve(request["params"])
    for step in entry.get("setup", []):
        await scene.apply(step)
    transport, poller = RecordingRequest(), RecordingRequest()
    caller = Bot(entry.get("token", TOKEN), base_url=f"{scene.url}/bot", request=transport,
                 get_updates_request=poller)
    await asyncio.gather(transport.initialize(), poller.initialize())
    try:
        sent = asyncio.create_task(caller.do_api_request(request["method"], api_kwargs=params))
        if "while_waiting" in entry:
            await _arrive_while_waiting(scene, request["method"], entry["while_waiting"])
        with pytest.raises(TelegramError) as raised:
            await sent
    finally:
        await asyncio.gather(transport.shutdown(), poller.shutdown())
    [(status, body)] = transport.answers + poller.answers
    return raised.value, status, json.loads(body)


async def _arrive_while_waiting(scene: Scene, method: str, other: dict[str, Any]) -> None:
    """Once the first request is held by the emulator, the other one arrives."""
    await eventually(lambda: scene.emulator.stats["calls"].get(method, 0) >= 1, within=5)
    await scene.bot.do_api_request(other["method"], api_kwargs=other["params"])


def _expected(entry: dict[str, Any], answer: Any) -> Any:
    """The recorded answer, with the parts Telegram varies taken from the emulator's."""
    expected = json.loads(json.dumps(entry["response"]))
    if "retry_after" in entry.get("vary", []):
        wait = answer.get("parameters", {}).get("retry_after")
        assert isinstance(wait, int) and wait >= 1, answer
        recorded = expected["parameters"]["retry_after"]
        expected["description"] = expected["description"].replace(str(recorded), str(wait))
        expected["parameters"]["retry_after"] = wait
    return expected


# the corpus sends each request raw on purpose, also for methods PTB has a helper for
@pytest.mark.filterwarnings("ignore:Please use 'Bot.:telegram.warnings.PTBUserWarning")
@pytest.mark.parametrize("entry", REPRODUCED, ids=[e["id"] for e in REPRODUCED])
async def test_emulator_answers_as_telegram_does(scene: Scene, entry: dict[str, Any]) -> None:
    """For each recorded failure the emulator sends Telegram's status, JSON body and error
    text, and python-telegram-bot raises the same error class as for Telegram's answer."""
    raised, status, answer = await _replay(scene, entry)
    assert answer == _expected(entry, answer)
    assert status == entry["response"]["error_code"]
    assert type(raised) is PTB_ERRORS[status], raised


def test_the_corpus_says_where_each_answer_was_seen() -> None:
    """Every entry names its request, the exact answer and a public source; an entry the
    emulator cannot provoke says why instead of being faked."""
    for entry in ENTRIES:
        response = entry["response"]
        assert response["ok"] is False and response["error_code"] in PTB_ERRORS, entry["id"]
        assert response["description"].strip() == response["description"], entry["id"]
        assert entry["request"]["method"] and isinstance(entry["request"]["params"], dict)
        assert entry["sources"], entry["id"]
        assert all(s.startswith("https://github.com/") for s in entry["sources"]), entry["id"]
        reason = entry.get("not_reproduced")
        assert reason is None or len(reason) > 20, entry["id"]
    assert len({e["id"] for e in ENTRIES}) == len(ENTRIES)
    assert len(REPRODUCED) >= 30
