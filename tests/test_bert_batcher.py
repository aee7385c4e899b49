"""Micro-batching: shared batches, order, length grouping, budgets, waits and failures.

The model is replaced by a function run in the real worker thread that records each batch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from processors.bert_batcher import MicroBatcher, estimate_tokens


class Recorder:
    """Stands in for the model: one row per text (its length and the worker thread)."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.delay, self.fail_on = delay, fail_on

    def __call__(self, texts: list[str]) -> list[Any]:
        self.batches.append(list(texts))
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on in texts:
            raise RuntimeError("model exploded")
        return [(text, threading.current_thread().name) for text in texts]


@pytest.fixture
def executor():
    pool = ThreadPoolExecutor(1, thread_name_prefix="bert")
    yield pool
    pool.shutdown(wait=True)


async def test_concurrent_callers_share_batches_and_get_their_own_rows(executor) -> None:
    run = Recorder()
    batcher = MicroBatcher(run, executor, max_lines=32, max_wait=0.02)
    callers = [[f"caller {c} line {i}" for i in range(3)] for c in range(8)]
    results = await asyncio.gather(*(batcher.map(texts) for texts in callers))
    for texts, rows in zip(callers, results, strict=True):
        assert [row[0] for row in rows] == texts
        assert all(row[1].startswith("bert") for row in rows)  # ran in the worker thread
    assert len(run.batches) == 1  # 24 lines from 8 callers, one forward pass
    batcher.close()


async def test_batch_keeps_order_with_duplicates(executor) -> None:
    run = Recorder()
    batcher = MicroBatcher(run, executor, max_lines=4, max_wait=0.001)
    texts = ["b", "a", "ccc", "a", "b", "dd", "a"]
    rows = await batcher.map(texts)
    assert [row[0] for row in rows] == texts
    assert sorted(t for batch in run.batches for t in batch) == ["a", "b", "ccc", "dd"]
    batcher.close()


async def test_batches_group_lines_of_similar_length(executor) -> None:
    run = Recorder()
    batcher = MicroBatcher(run, executor, max_lines=8, max_tokens=10_000, max_wait=0.001)
    short = [f"ok {i}" for i in range(16)]
    long = [f"a much longer log line that pads every short one in its batch {i}" for i in range(16)]
    mixed = [line for pair in zip(short, long, strict=True) for line in pair]
    await batcher.map(mixed)
    assert len(run.batches) == 4
    for batch in run.batches:  # never a short line padded to a long one
        assert len({len(text) > 20 for text in batch}) == 1
    batcher.close()


async def test_token_budget_caps_the_padded_batch(executor) -> None:
    run = Recorder()
    batcher = MicroBatcher(run, executor, max_lines=64, max_tokens=400, max_wait=0.001)
    texts = [f"{i:03d} " + "x" * 280 for i in range(20)]  # about 103 tokens each
    rows = await batcher.map(texts)
    assert [row[0] for row in rows] == texts
    per_line = estimate_tokens(texts[0], 256)
    assert all(len(batch) * per_line <= 400 for batch in run.batches)
    assert max(len(batch) for batch in run.batches) == 400 // per_line
    batcher.close()


async def test_a_lone_line_waits_at_most_max_wait(executor) -> None:
    batcher = MicroBatcher(Recorder(), executor, max_lines=32, max_wait=0.05)
    started = time.perf_counter()
    await batcher.map(["only line"])
    elapsed = time.perf_counter() - started
    assert 0.04 <= elapsed < 1.0
    batcher.close()


async def test_a_full_batch_leaves_without_waiting(executor) -> None:
    batcher = MicroBatcher(Recorder(), executor, max_lines=32, max_wait=30.0)
    started = time.perf_counter()
    await asyncio.wait_for(batcher.map([f"line {i}" for i in range(32)]), 5)
    assert time.perf_counter() - started < 1.0
    batcher.close()


async def test_the_oldest_line_is_served_before_newer_neighbours(executor) -> None:
    run = Recorder(delay=0.02)
    batcher = MicroBatcher(run, executor, max_lines=4, max_wait=0.001)
    first = asyncio.create_task(batcher.map(["x" * 200]))  # a lone long line
    await asyncio.sleep(0)
    await asyncio.gather(first, batcher.map([f"s{i}" for i in range(40)]))
    assert "x" * 200 in run.batches[0]
    batcher.close()


async def test_a_failed_batch_fails_its_callers_and_the_worker_goes_on(executor) -> None:
    run = Recorder(fail_on="boom")
    batcher = MicroBatcher(run, executor, max_lines=2, max_wait=0.001)
    with pytest.raises(RuntimeError, match="model exploded"):
        await batcher.map(["boom", "fine"])
    rows = await batcher.map(["later"])
    assert rows[0][0] == "later"
    batcher.close()


async def test_closing_cancels_waiting_callers(executor) -> None:
    batcher = MicroBatcher(Recorder(delay=0.2), executor, max_lines=1, max_wait=0.0)
    task = asyncio.create_task(batcher.map([f"line {i}" for i in range(10)]))
    await asyncio.sleep(0.05)
    batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.map(["after close"])
