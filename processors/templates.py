"""Turn a log line into its template: variable tokens become typed placeholders.

``mask("User 42 logged in from 10.0.0.5")`` → ``"User <NUM> logged in from <IP>"``.
Stateless and precompiled; masking a template returns it unchanged.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), placeholder)
    for pattern, placeholder in (
        (r"\b[a-z][a-z0-9+.\-]*://[^\s\"'<>]+", "<URL>"),
        (r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b", "<EMAIL>"),
        (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<UUID>"),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<IP>"),
        (r"(?<![\w/])(?:/[\w.\-]+){2,}/?", "<PATH>"),
        (r"\b0x[0-9a-fA-F]+\b", "<HEX>"),
        (r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "<HEX>"),
        (r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?![\w>])", "<NUM>"),
    )
)


def mask(message: str) -> str:
    """The template of ``message``; idempotent (``mask(mask(x)) == mask(x)``)."""
    for pattern, placeholder in _PATTERNS:
        message = pattern.sub(placeholder, message)
    return message
