"""The metrics registry: exact counts under concurrency, timer statistics, reset."""

from __future__ import annotations

import asyncio
import threading

import pytest

from monitoring import MetricsRegistry
from monitoring.timers import Timer


def test_counts_from_threads_and_tasks_are_never_lost():
    registry = MetricsRegistry()
    threads, per_thread, tasks, per_task = 8, 5_000, 50, 200
    start = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(per_thread):
            registry.count("lines_decided", tier="regex")
            registry.observe("tier.decide", 0.001, i % 2 == 0, tier="bert")

    async def task() -> None:
        for _ in range(per_task):
            registry.count("lines_decided", 2, tier="regex")
            registry.observe("tier.decide", 0.002, tier="bert")
            await asyncio.sleep(0)

    async def main() -> None:
        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        start.wait()
        await asyncio.gather(*(task() for _ in range(tasks)))
        for thread in pool:
            thread.join()

    asyncio.run(main())
    snap = registry.snapshot()
    assert (
        snap.counter("lines_decided", tier="regex") == threads * per_thread + 2 * tasks * per_task
    )
    timer = snap.timer("tier.decide", tier="bert")
    assert timer is not None
    assert timer.calls == threads * per_thread + tasks * per_task
    assert timer.errors == threads // 2 * per_thread
    assert sum(timer.buckets) == timer.calls
    assert timer.total == pytest.approx(threads * per_thread * 0.001 + tasks * per_task * 0.002)


def test_percentiles_of_known_inputs_match_numpy():
    registry = MetricsRegistry()
    for ms in range(100, 0, -1):  # 100 ms .. 1 ms, in reverse to show order does not matter
        registry.observe("pipeline.classify", ms / 1000)
    timer = registry.snapshot().timer("pipeline.classify")
    assert timer is not None
    p50, p95, p99 = timer.percentiles(50, 95, 99)
    assert (p50, p95, p99) == pytest.approx((0.0505, 0.09505, 0.09901))
    assert timer.min == pytest.approx(0.001) and timer.max == pytest.approx(0.1)
    assert timer.mean == pytest.approx(0.0505)


def test_percentiles_cover_only_the_recent_window_but_totals_cover_everything():
    registry = MetricsRegistry(window=10)
    for _ in range(90):
        registry.observe("f", 1.0)
    for _ in range(10):
        registry.observe("f", 0.01)
    timer = registry.snapshot().timer("f")
    assert timer is not None
    assert len(timer.recent) == 10
    assert timer.percentiles(99) == pytest.approx((0.01,))
    assert timer.calls == 100 and timer.max == 1.0
    assert timer.total == pytest.approx(90.1)


def test_labels_make_separate_series_regardless_of_keyword_order():
    registry = MetricsRegistry()
    registry.count("http.requests", route="/a", status="2xx")
    registry.count("http.requests", status="2xx", route="/a")
    registry.count("http.requests", route="/a", status="5xx")
    snap = registry.snapshot()
    assert snap.counter("http.requests", route="/a", status="2xx") == 2
    assert snap.counter("http.requests", status="5xx", route="/a") == 1
    assert snap.counter("http.requests") == 0


def test_snapshot_is_a_copy_that_later_recording_does_not_change():
    registry = MetricsRegistry()
    registry.observe("f", 0.5)
    before = registry.snapshot()
    registry.observe("f", 0.7)
    registry.count("c")
    assert before.timer("f").calls == 1  # type: ignore[union-attr]
    assert before.counter("c") == 0


def test_gauges_can_be_set_or_read_from_a_callback_and_a_failing_callback_is_skipped():
    registry = MetricsRegistry()
    size = [3]
    registry.set_gauge("breaker.open", 1, tier="llm")
    registry.gauge_callback("cache.size", lambda: size[0], level="l1")
    registry.gauge_callback("cache.size", lambda: 1 / 0, level="l2")
    size[0] = 7
    snap = registry.snapshot()
    assert snap.gauge("breaker.open", tier="llm") == 1
    assert snap.gauge("cache.size", level="l1") == 7
    assert snap.gauge("cache.size", level="l2") is None


def test_reset_zeroes_measurements_but_keeps_gauges():
    clock = iter([100.0, 160.0, 175.0]).__next__
    registry = MetricsRegistry(clock=clock)
    registry.count("lines_decided", 5, tier="bert")
    registry.observe("f", 0.1)
    registry.set_gauge("cache.size", 4)
    registry.reset()
    snap = registry.snapshot()
    assert snap.counters == {} and snap.timers == {}
    assert snap.gauge("cache.size") == 4
    assert (snap.started_at, snap.reset_at, snap.taken_at) == (100.0, 160.0, 175.0)


def test_a_window_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        MetricsRegistry(window=0)


def test_a_single_measurement_is_every_percentile_and_an_empty_timer_reports_zeros():
    registry = MetricsRegistry()
    registry.observe("f", 0.25)
    timer = registry.snapshot().timer("f")
    assert timer is not None
    assert timer.percentiles(50, 99) == (0.25, 0.25)
    empty = Timer(window=5).freeze()
    assert empty.percentiles(50, 95) == (0.0, 0.0)
    assert (empty.mean, empty.error_rate, empty.min) == (0.0, 0.0, 0.0)
