"""Content-Encoding as shippers send it, and the bound on what a body may inflate to."""

import gzip
import zlib

import pytest

from app.sidecar.body import BadEncoding, BodyTooLarge, UnsupportedEncoding, decode_content

LIMIT = 1024 * 1024


def test_gzip_body_is_inflated():
    assert decode_content(gzip.compress(b'{"message":"x"}'), "gzip", LIMIT) == b'{"message":"x"}'


def test_concatenated_gzip_members_are_all_read():
    body = gzip.compress(b"line 1\n") + gzip.compress(b"line 2\n")
    assert decode_content(body, "gzip", LIMIT) == b"line 1\nline 2\n"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_with_and_without_zlib_header(wbits):
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(b"hello deflate") + compressor.flush()
    assert decode_content(body, "deflate", LIMIT) == b"hello deflate"


def test_identity_and_no_encoding_leave_the_body_alone():
    assert decode_content(b"abc", None, LIMIT) == b"abc"
    assert decode_content(b"abc", "identity", LIMIT) == b"abc"


def test_gzip_bomb_stops_at_the_limit_without_inflating_it_all():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB compressed
    assert len(bomb) < 100_000
    with pytest.raises(BodyTooLarge, match="inflates past 1048576 bytes"):
        decode_content(bomb, "gzip", LIMIT)


def test_body_exactly_at_the_limit_is_accepted():
    assert len(decode_content(gzip.compress(b"a" * LIMIT), "gzip", LIMIT)) == LIMIT


def test_unknown_encoding_is_refused_by_name():
    with pytest.raises(UnsupportedEncoding, match="'br'"):
        decode_content(b"x", "br", LIMIT)


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"x" * 1000)[:-30]])
def test_corrupt_or_truncated_gzip_is_a_bad_encoding(body):
    with pytest.raises(BadEncoding, match="not valid gzip"):
        decode_content(body, "gzip", LIMIT)
