"""Classify, enrich and forward one shipper batch within a deadline; faults as HTTP answers.

The status codes are chosen for what shippers do with them: 503 + ``Retry-After`` for
anything transient (every shipper retries it; OTLP exporters drop a 500, and syslog-ng
retries a 4xx forever), 502 when the target refused the batch for good, 2xx only after
the target accepted it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from app.admission import Reservation
from app.settings import Settings
from app.sidecar.body import BadEncoding, BodyTooLarge, UnsupportedEncoding, decode_content
from app.sidecar.forward import Forwarder, ForwardPartial, ForwardRejected, ForwardUnavailable
from app.sidecar.render import Enriched
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.records import LogRecord, Verdict

__all__ = ["ForwarderDep", "deliver", "check_limits", "read_body"]


def get_forwarder(request: Request) -> Forwarder:
    try:
        return request.app.state.forwarder
    except AttributeError:
        raise RuntimeError(
            "app.state.forwarder is not set: open Forwarder.from_settings(settings) in the "
            "lifespan (see docs/sidecar.md)"
        ) from None


ForwarderDep = Annotated[Forwarder, Depends(get_forwarder)]


async def read_body(request: Request, limit: int) -> bytes:
    """The body with its Content-Encoding undone, within ``limit`` bytes (413/415/400)."""
    try:
        return decode_content(await request.body(), request.headers.get("content-encoding"), limit)
    except BodyTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except UnsupportedEncoding as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    except BadEncoding as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc


def check_limits(count: int, records: Sequence[LogRecord], settings: Settings) -> None:
    """413 for too many events, or an over-long message in ``reject`` mode.

    In the default ``truncate`` mode a long message is classified on its first
    ``max_line_chars`` characters (reason ``truncated``) and forwarded whole.
    """
    max_lines = settings.max_lines
    if count > max_lines:
        raise HTTPException(
            413,
            f"too many events: {count} sent, at most {max_lines} per request (LOGCLASS_MAX_LINES)",
        )
    if settings.long_lines == "reject":
        limit = settings.max_line_chars
        for i, record in enumerate(records):
            if len(record.message) > limit:
                raise HTTPException(
                    413,
                    f"message {i + 1} has {len(record.message)} characters, at most "
                    f"{limit} (LOGCLASS_MAX_LINE_CHARS)",
                )


# Classifications that outlived their request; held so the loop does not drop them.
_finishing: set[asyncio.Task[list[Verdict]]] = set()


async def _shielded(
    classification: Coroutine[Any, Any, list[Verdict]], reservation: Reservation | None
) -> list[Verdict]:
    """The classification as a task that outlives a cancelled caller; it keeps holding its
    lines in the backlog (``reservation``) until it really ends."""
    task = asyncio.ensure_future(classification)
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)
    if reservation is not None:
        reservation.release_when_done(task)
    return await asyncio.shield(task)


async def deliver(
    records: Sequence[LogRecord],
    apply: Callable[[list[Verdict]], Enriched],
    *,
    classifier: Classifier,
    forwarder: Forwarder,
    registry: MetricsRegistry,
    deadline: float,
    retry_after: int,
    partial_ok: bool = False,
    reservation: Reservation | None = None,
) -> Enriched:
    """``apply(verdicts)`` builds the enriched batch, which is forwarded when enabled.

    Raises HTTPException 503 (with Retry-After) when the deadline passes or the target
    stays unavailable, 502 when the target refuses the batch, or part of it: a refusal
    the caller can pass on (``partial_ok``, OTLP's ``partial_success``) is returned in
    ``rejected``/``rejection`` of the batch instead.

    A classification still running at the deadline is not cancelled: it finishes in the
    background and fills the template cache (and concurrent calls share its work), so
    the shipper's retry of the same batch is answered from the cache instead of timing
    out again behind a slow LLM. Its lines stay in the backlog (``reservation``, see
    ``app.admission``) until it ends, so such work is bounded.
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            verdicts = await _shielded(classifier.classify(records), reservation) if records else []
            batch = apply(verdicts)
            if batch.count():  # an empty batch has nothing to deliver
                await forwarder.send(batch)
    except TimeoutError:
        registry.count("sidecar_batches", outcome="deadline")
        raise HTTPException(
            503,
            f"not done within {deadline:g} s (LOGCLASS_INGEST_DEADLINE_SECONDS); retry",
            headers={"Retry-After": str(retry_after)},
        ) from None
    except ForwardUnavailable as exc:
        registry.count("sidecar_batches", outcome="unavailable")
        raise HTTPException(
            503, f"{exc}; retry", headers={"Retry-After": str(retry_after)}
        ) from None
    except ForwardPartial as exc:
        registry.count("sidecar_batches", outcome="partial")
        registry.count("sidecar_events_rejected", exc.rejected)
        if not partial_ok:
            raise HTTPException(502, str(exc)) from None
        batch.rejected, batch.rejection = exc.rejected, str(exc)
        return batch
    except ForwardRejected as exc:
        registry.count("sidecar_batches", outcome="rejected")
        raise HTTPException(502, str(exc)) from None
    registry.count("sidecar_batches", outcome="ok")
    registry.count("sidecar_events", batch.count(), framing=batch.framing)
    registry.observe("sidecar.deliver", time.perf_counter() - started)
    return batch
