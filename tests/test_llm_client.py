"""Reading ``Retry-After`` the two ways servers send it."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from processors.llm_client import retry_after


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0.25", 0.25), ("-4", 0.0)])
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert retry_after(header) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    header = formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_after(header) <= 31  # type: ignore[operator]


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo"])
def test_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert retry_after(header) is None
