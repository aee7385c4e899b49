"""@monitor_performance: sync, async, methods, errors, and how it finds its registry."""

from __future__ import annotations

import asyncio

import pytest

from monitoring import MetricsRegistry, monitor_performance, use_registry
from monitoring.stats import build_stats


@monitor_performance
def add(a: int, b: int) -> int:
    return a + b


@monitor_performance("parse.number")
async def parse_number(text: str) -> int:
    await asyncio.sleep(0)
    return int(text)


class Tier:
    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    @monitor_performance
    def decide(self, n: int) -> list[int]:
        return list(range(n))

    @monitor_performance
    async def adecide(self, n: int) -> list[int]:
        return list(range(n))


def test_sync_function_is_timed_under_module_qualname_and_keeps_its_result():
    registry = MetricsRegistry()
    with use_registry(registry):
        assert add(2, 3) == 5
        assert add(1, 1) == 2
    timer = registry.snapshot().timer(f"{__name__}.add")
    assert timer is not None and timer.calls == 2 and timer.errors == 0
    assert add.__name__ == "add"  # functools.wraps keeps the identity


async def test_async_function_is_timed_including_its_await():
    registry = MetricsRegistry()
    with use_registry(registry):
        assert await parse_number("42") == 42
    timer = registry.snapshot().timer("parse.number")
    assert timer is not None and timer.calls == 1


async def test_methods_record_into_their_own_registry_without_any_context():
    mine, other = MetricsRegistry(), MetricsRegistry()
    tier = Tier(mine)
    with use_registry(other):
        assert tier.decide(3) == [0, 1, 2]
        assert await tier.adecide(2) == [0, 1]
    snap = mine.snapshot()
    assert snap.timer(f"{__name__}.Tier.decide").calls == 1  # type: ignore[union-attr]
    assert snap.timer(f"{__name__}.Tier.adecide").calls == 1  # type: ignore[union-attr]
    assert other.snapshot().timers == {}


async def test_a_raising_function_counts_an_error_and_the_exception_passes_unchanged():
    registry = MetricsRegistry()

    @monitor_performance("boom", registry=registry)
    def boom() -> None:
        raise KeyError("missing")

    @monitor_performance("aboom", registry=lambda: registry)
    async def aboom() -> None:
        raise ValueError("bad")

    with pytest.raises(KeyError, match="missing"):
        boom()
    with pytest.raises(ValueError, match="bad"):
        await aboom()
    snap = registry.snapshot()
    assert (snap.timer("boom").calls, snap.timer("boom").errors) == (1, 1)  # type: ignore[union-attr]
    assert snap.timer("aboom").error_rate == 1.0  # type: ignore[union-attr]


async def test_cancellation_is_timed_but_not_an_error():
    registry = MetricsRegistry()

    @monitor_performance("waits", registry=registry)
    async def waits() -> None:
        await asyncio.sleep(10)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    timer = registry.snapshot().timer("waits")
    assert timer is not None and (timer.calls, timer.errors) == (1, 0)


async def test_context_registry_reaches_tasks_and_to_thread_but_not_outside_the_block():
    registry = MetricsRegistry()
    with use_registry(registry):
        await asyncio.gather(*(asyncio.to_thread(add, i, i) for i in range(5)))
        await asyncio.create_task(parse_number("1"))
    add(0, 0)  # no registry bound any more: runs unmeasured
    snap = registry.snapshot()
    assert snap.timer(f"{__name__}.add").calls == 5  # type: ignore[union-attr]
    assert snap.timer("parse.number").calls == 1  # type: ignore[union-attr]


def test_without_any_registry_the_function_just_runs():
    assert add(40, 2) == 42


def test_generators_are_refused_because_only_their_creation_could_be_timed():
    with pytest.raises(TypeError, match="generator"):

        @monitor_performance
        def numbers():
            yield 1


def test_functions_whose_p95_exceeds_the_threshold_are_listed_as_slow():
    registry = MetricsRegistry()
    for _ in range(20):
        registry.observe("fast", 0.002)
        registry.observe("slow", 0.9, tier="llm")
    registry.observe("spiky", 5.0)  # one slow call among many fast ones: p95 stays low
    for _ in range(99):
        registry.observe("spiky", 0.001)
    stats = build_stats(registry.snapshot(), slow_threshold_ms=500)
    assert [entry["function"] for entry in stats["slow_functions"]] == ["slow{tier=llm}"]
    assert stats["slow_functions"][0]["p95_ms"] == pytest.approx(900)
    assert stats["functions"]["spiky"]["max_ms"] == pytest.approx(5000)
