"""Request limits: body bytes (middleware), lines per request and characters per line."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings
from processors.records import LogRecord


class BodyLimitMiddleware:
    """Refuses bodies over ``max_body_bytes`` with 413, by Content-Length or while streaming.

    Chunked bodies carry no length, so the bytes are counted as they arrive and the read is
    stopped at the limit: memory stays bounded whatever the client sends.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _message(limit))
            return message

        await self.app(scope, counting_receive, send)


def _message(limit: int) -> str:
    return f"request body too large: at most {limit} bytes (LOGCLASS_MAX_BODY_BYTES)"


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    from starlette.responses import JSONResponse

    response = JSONResponse({"detail": _message(limit)}, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    await response(scope, receive, send)


def check_records(records: Sequence[LogRecord], settings: Settings) -> None:
    """413 when a request has too many lines, or an over-long line in ``reject`` mode."""
    if len(records) > settings.max_lines:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"too many lines: {len(records)} sent, at most {settings.max_lines} per request "
            "(LOGCLASS_MAX_LINES)",
        )
    if settings.long_lines == "reject":
        for i, record in enumerate(records):
            if len(record.message) > settings.max_line_chars:
                raise HTTPException(
                    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                    f"line {i} has {len(record.message)} characters, at most "
                    f"{settings.max_line_chars} (LOGCLASS_MAX_LINE_CHARS)",
                )
