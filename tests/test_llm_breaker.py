"""The circuit breaker's states, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from processors.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_opens_after_n_consecutive_failures_only(clock: Clock) -> None:
    breaker = CircuitBreaker(3, 10.0, clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # the streak is broken
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_half_opens_after_cooldown_and_lets_exactly_one_probe_through(clock: Clock) -> None:
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else still waits


def test_probe_success_closes_and_probe_failure_reopens_for_a_full_cooldown(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 0
    assert breaker.allow() and breaker.allow()


def test_a_lost_probe_is_replaced_after_another_cooldown(clock: Clock) -> None:
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()  # this probe is cancelled and never reports
    clock.now += 10
    assert breaker.allow()


def test_reports_each_state_change_once(clock: Clock) -> None:
    seen: list[str] = []
    breaker = CircuitBreaker(2, 5.0, clock, on_change=seen.append)
    for _ in range(4):
        breaker.record_failure()
    clock.now += 5
    breaker.allow()
    breaker.record_success()
    assert seen == [OPEN, HALF_OPEN, CLOSED]


def test_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(0, 1.0)
    with pytest.raises(ValueError):
        CircuitBreaker(1, 0.0)
