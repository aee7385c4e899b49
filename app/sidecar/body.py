"""Request bodies as shippers send them: gzip/deflate, decompressed within a size limit.

The compressed size is already bounded by FastAPI's ``max_body_size``; this bounds what it
inflates to, so a small gzip bomb cannot fill the memory.
"""

from __future__ import annotations

import zlib

__all__ = ["BodyTooLarge", "UnsupportedEncoding", "BadEncoding", "decode_content"]

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 64 * 1024


class BodyTooLarge(ValueError):
    """The body inflates past the limit (413)."""


class UnsupportedEncoding(ValueError):
    """A Content-Encoding we cannot undo (415)."""


class BadEncoding(ValueError):
    """The body is not valid in the Content-Encoding it claims (400)."""


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``body`` with its Content-Encoding undone; at most ``limit`` bytes, else BodyTooLarge.

    Accepts ``identity``, ``gzip`` (concatenated members too) and ``deflate`` (zlib, or
    raw deflate as some clients send it), and a list of them applied in order.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):  # the last one listed was applied last
        if coding == "identity":
            continue
        if coding not in _WBITS:
            raise UnsupportedEncoding(
                f"Content-Encoding {coding!r} is not supported (use gzip, deflate or identity)"
            )
        body = _inflate(body, coding, limit)
    return body


def _inflate(data: bytes, coding: str, limit: int) -> bytes:
    try:
        return _inflate_with(data, _WBITS[coding], limit, coding)
    except zlib.error as exc:
        if coding != "deflate":
            raise BadEncoding(f"body is not valid {coding}: {exc}") from exc
    try:  # "deflate" without the zlib header, as some clients send it
        return _inflate_with(data, -zlib.MAX_WBITS, limit, coding)
    except zlib.error as exc:
        raise BadEncoding(f"body is not valid deflate: {exc}") from exc


def _inflate_with(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            chunk = inflater.decompress(data, _CHUNK)
            data = inflater.unconsumed_tail
            if not chunk and not data:
                raise zlib.error("the stream ends early")
            out += chunk
            if len(out) > limit:
                raise BodyTooLarge(
                    f"the {coding} body inflates past {limit} bytes (LOGCLASS_MAX_BODY_BYTES)"
                )
        data = inflater.unused_data
        if not data or wbits != _WBITS["gzip"]:  # gzip may hold several members
            return bytes(out)
