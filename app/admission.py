"""Admission by queued lines: one bound on the classification work a process holds.

``LOGCLASS_MAX_CONCURRENT_REQUESTS`` bounds requests while they are being answered, but
classification can outlive its request: when the ingest deadline answers 503, the batch
goes on being classified in the background (so the shipper's retry finds the cache warm).
Without a bound of its own, a shipper that retries every few seconds against a slow LLM
piles batch after batch into the BERT micro-batcher and the LLM waiters.

The backlog counts lines. A request reserves its line count once it has counted them (while
decoding, never more than ``LOGCLASS_MAX_LINES``) and before it classifies; the reservation
is released when the classification has really finished: for work that outlives its
request, when the background task ends, not when the 503 leaves. Past
``LOGCLASS_MAX_QUEUED_LINES`` the answer is 503 with ``Retry-After``: before the body is
read when the backlog is already full, after counting when the request's lines do not fit.
A request larger than the whole bound is admitted into an empty backlog only, so any
request within ``LOGCLASS_MAX_LINES`` gets through once the backlog drains.

One event loop per process, so plain integers are exact; with ``--workers N`` each process
has its own bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from monitoring import MetricsRegistry

__all__ = ["AdmittedRoute", "Backlog", "BacklogFull", "Reservation", "admit"]

SETTING = "LOGCLASS_MAX_QUEUED_LINES"
_RESERVATIONS = "logclass.reservations"  # scope key: what the request reserved


class BacklogFull(Exception):
    """No room for the lines asked for; the message says how many are queued (503)."""


class Reservation:
    """Lines held in a :class:`Backlog`; ``release`` gives them back (idempotent)."""

    __slots__ = ("_backlog", "lines", "_task")

    def __init__(self, backlog: Backlog, lines: int) -> None:
        self._backlog = backlog
        self.lines = lines
        self._task: asyncio.Future[Any] | None = None

    def release(self, lines: int | None = None) -> None:
        """Gives back ``lines`` of them (all by default); never more than are held."""
        count = self.lines if lines is None else min(lines, self.lines)
        if count > 0:
            self.lines -= count
            self._backlog._give_back(count)

    def release_when_done(self, task: asyncio.Future[Any]) -> None:
        """Held until ``task`` (the classification) ends, even after its request ended."""
        self._task = task
        task.add_done_callback(lambda _: self.release())

    def end_of_request(self) -> None:
        """The request is over: release, unless a classification still runs for it."""
        if self._task is None or self._task.done():
            self.release()


class Backlog:
    """Lines admitted for classification that have not finished; at most ``limit``.

    Reports ``backlog_queued_lines`` (gauge) and ``backlog_rejected`` (counter, by ``when``:
    ``before_body`` or ``after_count``) to ``registry``.
    """

    def __init__(
        self, limit: int, *, retry_after: int = 1, registry: MetricsRegistry | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.retry_after = retry_after
        self.queued = 0
        self.registry = registry or MetricsRegistry()
        self.registry.gauge_callback("backlog_queued_lines", lambda: self.queued)

    @classmethod
    def from_settings(cls, settings: Any, registry: MetricsRegistry | None = None) -> Backlog:
        return cls(
            settings.max_queued_lines,
            retry_after=settings.overload_retry_after_seconds,
            registry=registry,
        )

    def has_room(self) -> bool:
        return self.queued < self.limit

    def reserve(self, lines: int) -> Reservation:
        """Holds ``lines``; BacklogFull when they do not fit (and the backlog is not empty)."""
        if self.queued and self.queued + lines > self.limit:
            self.registry.count("backlog_rejected", when="after_count")
            raise BacklogFull(self._message(lines))
        self.queued += lines
        return Reservation(self, lines)

    def refuse_early(self) -> str:
        """Counts a refusal before the body was read; the message to answer."""
        self.registry.count("backlog_rejected", when="before_body")
        return self._message(None)

    def _give_back(self, lines: int) -> None:
        self.queued -= lines

    def _message(self, lines: int | None) -> str:
        asked = f"; this request has {lines}" if lines is not None else ""
        return (
            f"overloaded: {self.queued} lines are queued for classification, at most "
            f"{self.limit} ({SETTING}){asked}; retry after {self.retry_after} s"
        )


def admit(request: Request, lines: int) -> Reservation:
    """Reserves ``lines`` for this request, released at the latest when it ends (see
    :class:`AdmittedRoute`); HTTPException 503 with ``Retry-After`` when they do not fit."""
    backlog = backlog_of(request.scope)
    held: list[Reservation] | None = request.scope.get(_RESERVATIONS)
    if held is None:
        raise RuntimeError(f"{request.url.path}: admit() needs route_class=AdmittedRoute")
    try:
        reservation = backlog.reserve(lines)
    except BacklogFull as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            str(exc),
            headers={"Retry-After": str(backlog.retry_after)},
        ) from None
    held.append(reservation)
    return reservation


def backlog_of(scope: Scope) -> Backlog:
    try:
        return scope["app"].state.backlog
    except (KeyError, AttributeError):
        raise RuntimeError(
            "app.state.backlog is not set: open Backlog.from_settings(settings) in the lifespan"
        ) from None


class AdmittedRoute(APIRoute):
    """A route that classifies: refused with 503 before its body is read while the backlog
    is full; when the request ends (answered, failed or cancelled), whatever it reserved
    and no classification still holds is released, so nothing leaks."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        backlog = backlog_of(scope)
        if not backlog.has_room():
            refusal = JSONResponse(
                {"detail": backlog.refuse_early()},
                status.HTTP_503_SERVICE_UNAVAILABLE,
                # the body is not read: the connection cannot be reused safely
                headers={"Retry-After": str(backlog.retry_after), "Connection": "close"},
            )
            await refusal(scope, receive, send)
            return
        held: list[Reservation] = []
        scope[_RESERVATIONS] = held
        try:
            await super().handle(scope, receive, send)
        finally:
            for reservation in held:
                reservation.end_of_request()
