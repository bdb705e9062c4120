"""The write queue and the one task that drains it: group commit.

Every write becomes a ``WriteOp`` in one in-memory queue. The writer task takes all
that is queued (up to ``batch_cap``), hands it to the writer thread to apply in one
transaction with one COMMIT (``sqlite_writer``), then resolves each caller. It never
waits to fill a batch: when idle the first op goes at once (latency at low load is one
commit), and under load the next batch gathers while the previous commit runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bridge.store.sqlite_writer import BatchWriter, Failed, Outcome, WriteOp

__all__ = ["GroupCommitter"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Queued:
    op: WriteOp
    future: asyncio.Future[Any]


class GroupCommitter:
    """Owns the writer thread and its connection; ``on_commit`` sees each op that succeeded.

    ``on_commit(op, outcome)`` runs on the event loop after the COMMIT and before the
    op's caller resumes, so a cache updated there is never behind an acknowledged write.
    """

    def __init__(self, batch_cap: int, on_commit: Callable[[WriteOp, Outcome], None]) -> None:
        self._batch_cap = batch_cap
        self._on_commit = on_commit
        self._queue: deque[_Queued] = deque()
        self._wake = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._writer: BatchWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the one start() ran on
        self._stopping = False
        self.commits = 0  # group commits made
        self.written = 0  # ops that went through a commit (succeeded, or failed alone)

    @property
    def accepting(self) -> bool:
        return self._task is not None and not self._task.done() and not self._stopping

    async def start(self, open_writer: Callable[[], BatchWriter]) -> None:
        """Open the writer on its own thread (migrations run there) and start the task."""
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pustaka-sqlite-writer")
        try:
            loop = self._loop = asyncio.get_running_loop()
            self._writer = await loop.run_in_executor(self._executor, open_writer)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise
        self._task = asyncio.create_task(self._run(), name="sqlite-writer")

    async def stop(self) -> None:
        """Commit everything already queued, then close the writer and its thread."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        executor, self._executor = self._executor, None
        writer, self._writer = self._writer, None
        if executor is not None:
            if writer is not None:
                await asyncio.get_running_loop().run_in_executor(executor, writer.close)
            executor.shutdown(wait=True)

    def submit(self, op: WriteOp) -> asyncio.Future[Any]:
        """Queue one write: the future is its outcome once it is committed, or its error.
        A future, not a coroutine: awaiting it is one step less on every write."""
        assert self._loop is not None  # accepting (the store checks) means started
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.append(_Queued(op, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            take = min(len(self._queue), self._batch_cap)
            batch = [self._queue.popleft() for _ in range(take)]
            assert self._executor is not None and self._writer is not None
            try:
                outcomes, committed = await loop.run_in_executor(
                    self._executor, self._writer.apply, [item.op for item in batch]
                )
            except BaseException as exc:  # a bug here must fail the callers, not hang them
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.commits += committed
            self.written += len(batch)
            self._settle(batch, outcomes)

    def _settle(self, batch: list[_Queued], outcomes: list[Outcome]) -> None:
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Failed):
                if not item.future.done():
                    item.future.set_exception(outcome.error)
                continue
            try:
                self._on_commit(item.op, outcome)
            except Exception:  # the write is committed; its caller must still hear so
                log.exception("after-commit hook failed for %s", item.op.kind)
            if not item.future.done():
                item.future.set_result(outcome)
