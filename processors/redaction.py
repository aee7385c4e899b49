"""URLs fit to show: in logs, health and error messages, never their secrets.

Endpoints are configured with their credentials inside more often than not: a password in
the user info (``https://user:pw@collector/v1/logs``), or a key in the query string
(``…/chat/completions?api-key=…``, Azure's ``?sig=…``). :func:`redact_url` keeps what
tells an operator which endpoint it is (scheme, user, host, port, path, the other
parameters) and replaces the rest with ``***``. :func:`redact_httpx_logs` does the same to
the URL httpx logs for every request (at INFO, shown wherever logging is set that low).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = ["redact_httpx_logs", "redact_url"]

HIDDEN = "***"
# parameter names that carry a secret: api-key, apikey, key, access_token, token,
# client_secret, password, pwd, sig/signature (pre-signed URLs), auth, credential, session
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|sig|auth|credential|session", re.I)


def redact_url(url: str) -> str:
    """``url`` with the password of its user info and the values of query parameters whose
    name says secret replaced by ``***``; never raises, even for a URL that does not parse."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: keep only what cannot be secret
        head = re.sub(r"//[^/?#]*@", f"//{HIDDEN}@", url.split("?", 1)[0])
        return head + (f"?{HIDDEN}" if "?" in url else "")
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{HIDDEN}@{hostport}"
    query, fragment = _redact_parameters(parts.query), _redact_parameters(parts.fragment)
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


def _redact_parameters(text: str) -> str:
    """``a=1&api-key=s`` → ``a=1&api-key=***`` (a fragment may hold ``access_token=`` too)."""
    kept = []
    for parameter in text.split("&"):
        name, eq, value = parameter.partition("=")
        secret = eq and value and _SECRET_NAME.search(unquote_plus(name))
        kept.append(f"{name}={HIDDEN}" if secret else parameter)
    return "&".join(kept)


class _RedactedUrls(logging.Filter):
    """Rewrites the URL arguments of a record (httpx: ``HTTP Request: POST <url> …``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(arg)) if "://" in str(arg) else arg for arg in record.args
            )
        return True


def redact_httpx_logs() -> None:
    """Makes the ``httpx`` logger write URLs through :func:`redact_url`; idempotent. Called by
    the clients that are configured with URLs that may carry secrets (forward, LLM)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactedUrls) for f in logger.filters):
        logger.addFilter(_RedactedUrls())
