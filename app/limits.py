"""Request limits beyond body size (FastAPI enforces that): lines and characters per line."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException

from app.settings import Settings
from processors.records import LogRecord


def check_records(records: Sequence[LogRecord], settings: Settings) -> None:
    """413 when a request has too many lines, or an over-long line in ``reject`` mode."""
    if len(records) > settings.max_lines:
        raise HTTPException(
            413,
            f"too many lines: {len(records)} sent, at most {settings.max_lines} per request "
            "(LOGCLASS_MAX_LINES)",
        )
    if settings.long_lines == "reject":
        for i, record in enumerate(records):
            if len(record.message) > settings.max_line_chars:
                raise HTTPException(
                    413,
                    f"line {i} has {len(record.message)} characters, at most "
                    f"{settings.max_line_chars} (LOGCLASS_MAX_LINE_CHARS)",
                )
