"""Micro-batching for the BERT tier: texts from all concurrent callers, encoded together.

On CPU a transformer pays for padding: a batch costs about ``lines x longest line``. So the
queue is kept sorted by length and each batch is a run of neighbours in that order, grown
around the oldest waiting text (so nobody starves) until it holds ``max_lines`` texts or its
padded size would pass ``max_tokens`` (the token budget text-embeddings-inference uses).
A batch leaves when it is full, or when its oldest text has waited ``max_wait`` seconds.
Identical texts queued by different callers are computed once. Each batch runs in the
given single-thread executor, so the event loop only ever does bookkeeping.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 2.8  # measured on masked Loghub lines with the MiniLM WordPiece vocabulary


def estimate_tokens(text: str, cap: int) -> int:
    """Tokens ``text`` will take, [CLS] and [SEP] included, without running the tokenizer."""
    return min(cap, 2 + int(len(text) / CHARS_PER_TOKEN + 0.999))


@dataclass(eq=False)
class _Job:
    text: str
    tokens: int
    seq: int
    arrived: float
    future: asyncio.Future[Any]
    taken: bool = field(default=False)

    @property
    def key(self) -> tuple[int, int]:
        return (len(self.text), self.seq)


class MicroBatcher:
    """Queues texts, runs ``run(batch) -> rows`` off the loop, hands each caller its rows."""

    def __init__(self, run: Callable[[list[str]], Iterable[Any]], executor: Executor, *,
                 max_lines: int = 32, max_tokens: int = 2048, max_wait: float = 0.005,
                 token_cap: int = 256) -> None:
        self._run, self._executor = run, executor
        self.max_lines, self.max_tokens, self.max_wait = max_lines, max_tokens, max_wait
        self.token_cap = token_cap
        self._sorted: list[_Job] = []  # by (length, arrival)
        self._arrivals: deque[_Job] = deque()
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0

    @property
    def queued(self) -> int:
        return len(self._sorted)

    async def map(self, texts: Sequence[str]) -> list[Any]:
        """The row for each text, in order; raises what ``run`` raised for its batch."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        self._ensure_worker(loop)
        now, futures = loop.time(), []
        for text in texts:
            future = self._inflight.get(text)
            if future is None:
                future = self._inflight[text] = loop.create_future()
                tokens = estimate_tokens(text, self.token_cap)
                job = _Job(text, tokens, next(self._seq), now, future)
                bisect.insort(self._sorted, job, key=lambda j: j.key)
                self._arrivals.append(job)
            futures.append(future)
        assert self._wake is not None
        self._wake.set()
        await asyncio.wait(set(futures))  # unlike gather, never cancels futures others share
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the worker; callers still waiting get ``CancelledError``."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
        for job in self._sorted:
            job.future.cancel()
        self._sorted.clear()
        self._arrivals.clear()
        self._inflight.clear()

    def _ensure_worker(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._work(), name="bert-microbatcher")

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            if not self._sorted:
                self._wake.clear()
                await self._wake.wait()
                continue
            oldest = self._oldest()
            wait = oldest.arrived + self.max_wait - loop.time()
            if wait > 0 and not self._full():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            batch = self._take_batch(oldest)
            try:
                rows = await loop.run_in_executor(
                    self._executor, self._run, [job.text for job in batch]
                )
            except asyncio.CancelledError:
                for job in batch:
                    job.future.cancel()
                raise
            except Exception as exc:  # the callers of this batch see it; the worker goes on
                for job in batch:
                    self._settle(job, exc=exc)
            else:
                for job, row in zip(batch, rows, strict=True):
                    self._settle(job, row=row)
            self.batches += 1

    def _settle(self, job: _Job, row: Any = None, exc: BaseException | None = None) -> None:
        self._inflight.pop(job.text, None)
        if job.future.done():
            return
        if exc is not None:
            job.future.set_exception(exc)
            job.future.exception()  # a caller that went away must not leave it "never retrieved"
        else:
            job.future.set_result(row)

    def _full(self) -> bool:
        """Enough is queued to fill a batch by lines or by (unpadded) tokens."""
        if len(self._sorted) >= self.max_lines:
            return True
        return sum(job.tokens for job in self._sorted) >= self.max_tokens

    def _oldest(self) -> _Job:
        while self._arrivals[0].taken:
            self._arrivals.popleft()
        return self._arrivals[0]

    def _take_batch(self, anchor: _Job) -> list[_Job]:
        """A run of length-neighbours around ``anchor`` within the line and token budgets."""
        jobs = self._sorted
        lo = bisect.bisect_left(jobs, anchor.key, key=lambda j: j.key)
        hi = lo + 1
        while hi - lo < self.max_lines:
            left = jobs[lo - 1] if lo > 0 else None
            right = jobs[hi] if hi < len(jobs) else None
            if left is None and right is None:
                break
            longest = jobs[hi - 1].tokens
            fits_left = left is not None and (hi - lo + 1) * longest <= self.max_tokens
            fits_right = right is not None and (hi - lo + 1) * right.tokens <= self.max_tokens
            if fits_right and right is not None and (not fits_left or _closer(anchor, right, left)):
                hi += 1
            elif fits_left:
                lo -= 1
            else:
                break
        batch = jobs[lo:hi]
        del jobs[lo:hi]
        for job in batch:
            job.taken = True
        return batch


def _closer(anchor: _Job, right: _Job, left: _Job | None) -> bool:
    """Whether ``right`` is at least as close in length to ``anchor`` as ``left``."""
    if left is None:
        return True
    return len(right.text) - len(anchor.text) <= len(anchor.text) - len(left.text)
