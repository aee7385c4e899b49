"""A circuit breaker for one remote dependency (the LLM server).

``closed``: calls flow; ``failures`` consecutive failures open it. ``open``: every call is
refused at once (no socket, no timeout) until ``cooldown`` seconds pass. ``half_open``:
exactly one probe call is let through; its success closes the breaker, its failure opens
it for another cool-down. A probe that never reports back (cancelled) is replaced after
one more cool-down, so the breaker cannot stick half-open.

Used from one event loop only; not thread-safe, and needs not be.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        if failures < 1 or cooldown <= 0:
            raise ValueError("failures must be >= 1 and cooldown > 0")
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._state = CLOSED
        self._consecutive = 0
        self._since = clock()  # when the current state (or the current probe) began

    @property
    def state(self) -> str:
        """The state as a caller would meet it now (``open`` past cool-down reads half-open)."""
        if self._state == OPEN and self._clock() - self._since >= self.cooldown:
            return HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def allow(self) -> bool:
        """May a call go out now? In half-open, True for the single probe only."""
        if self._state == CLOSED:
            return True
        if self._clock() - self._since < self.cooldown:
            return False
        self._set(HALF_OPEN)  # cool-down over (or a lost probe timed out): one probe
        return True

    def record_success(self) -> None:
        self._consecutive = 0
        if self._state != CLOSED:
            self._set(CLOSED)

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._state == HALF_OPEN or self._consecutive >= self.failures:
            self._set(OPEN)

    def _set(self, state: str) -> None:
        changed = state != self._state
        self._state = state
        self._since = self._clock()
        if changed and self._on_change is not None:
            self._on_change(state)
