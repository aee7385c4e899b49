"""A broken disk never fails a lookup: L1 carries on, health says degraded, errors are counted.

Tests run as root, so ``chmod`` cannot make a directory read-only; instead: a file where the
cache directory should be (cannot be opened), garbage in ``cache.db`` (corrupt), the
immutable attribute (``chattr +i``, refused even to root; skipped where the filesystem or
container does not allow it) for read-only, and sqlite's own page limit
(``max_page_count``, kept by diskcache in the database) for a full disk — sqlite then raises
exactly what a full disk raises, ``database or disk is full``.
"""

import logging
import shutil
import sqlite3
import subprocess

import diskcache
import pytest

from monitoring import MetricsRegistry
from processors.cache import TemplateCache
from processors.pipeline import Outcome

ERROR = Outcome("Error", 0.9, "bert", None)
LOG = "processors.cache_disk"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def assert_memory_still_works(cache: TemplateCache) -> None:
    cache.set_many({"fresh": ERROR})
    assert cache.get_many(["fresh", "never"]) == {"fresh": ERROR}


def test_unopenable_directory_degrades_to_memory_and_warns_once(tmp_path, caplog):
    clock = FakeClock()
    registry = MetricsRegistry()
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    with caplog.at_level(logging.WARNING, logger=LOG):
        cache = TemplateCache(blocker, timer=clock, retry_after_seconds=30, registry=registry)
        assert_memory_still_works(cache)
        clock.now += 31  # retried, fails again: counted, not logged again
        assert cache.get_many(["other"]) == {}
    health = cache.health()
    assert health["status"] == "degraded" and health["l2"] == "failed"
    assert health["last_error"].startswith("get: OperationalError: unable to open")
    assert cache.stats()["l2"]["errors"] == 2
    warnings = [r for r in caplog.records if r.name == LOG]
    assert len(warnings) == 1 and str(blocker) in warnings[0].getMessage()


def test_the_disk_level_comes_back_after_the_retry_delay(tmp_path, caplog):
    clock = FakeClock()
    path = tmp_path / "cache"
    path.write_text("not a directory")
    cache = TemplateCache(path, timer=clock, retry_after_seconds=30)
    cache.set_many({"a": ERROR})
    path.unlink()
    clock.now += 10
    cache.set_many({"b": ERROR})  # still waiting out the failure: not written to disk
    assert cache.health()["status"] == "degraded"
    clock.now += 21
    cache.set_many({"c": ERROR})
    assert cache.health()["status"] == "ok"
    assert TemplateCache(path).get_many(["a", "b", "c"]) == {"c": ERROR}


def test_corrupt_database_degrades_to_memory(tmp_path):
    TemplateCache(tmp_path).set_many({"a": ERROR})
    (tmp_path / "cache.db").write_bytes(b"this is not sqlite" * 512)
    cache = TemplateCache(tmp_path)
    assert cache.get_many(["a"]) == {}
    assert_memory_still_works(cache)
    health = cache.health()
    assert health["status"] == "degraded"
    assert "DatabaseError" in health["last_error"]
    assert cache.clear() == {"l1": 1, "l2": 0}


def test_full_disk_degrades_but_keeps_serving_what_it_holds(tmp_path, caplog):
    with diskcache.Cache(str(tmp_path), sqlite_max_page_count=24):  # kept in the database
        pass
    cache = TemplateCache(tmp_path, l1_max_entries=10_000)
    with caplog.at_level(logging.WARNING, logger=LOG):
        for batch in range(40):
            cache.set_many({f"{batch}-{i}-" + "x" * 300: ERROR for i in range(20)})
    assert cache.health()["status"] == "degraded"
    assert "database or disk is full" in cache.health()["last_error"]
    assert len(cache.get_many([f"39-{i}-" + "x" * 300 for i in range(20)])) == 20  # from L1
    assert len([r for r in caplog.records if r.name == LOG]) == 1


@pytest.fixture
def immutable(tmp_path):
    """Marks paths immutable (chattr +i) and always undoes it; skips where not allowed."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    marked = []

    def mark(path):
        result = subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"chattr +i not permitted here: {result.stderr.decode().strip()}")
        marked.append(path)

    yield mark
    for path in marked:
        subprocess.run(["chattr", "-R", "-i", str(path)], check=False)


def test_read_only_cache_directory_degrades_writes_but_never_raises(tmp_path, immutable):
    directory = tmp_path / "cache"
    seeded = TemplateCache(directory)
    seeded.set_many({"old": ERROR})
    seeded.close()
    immutable(directory)
    cache = TemplateCache(directory)
    found = cache.get_many(["old"])  # sqlite may still read it, or may not open at all
    assert found in ({"old": ERROR}, {})
    cache.set_many({"new": ERROR})
    health = cache.health()
    assert health["status"] == "degraded"
    assert cache.get_many(["new"]) == {"new": ERROR}
    assert cache.stats()["l2"]["errors"] >= 1


def test_a_database_locked_by_another_process_skips_one_write_without_an_outage(tmp_path):
    cache = TemplateCache(tmp_path, l2_lock_timeout_seconds=0.05)
    other = sqlite3.connect(tmp_path / "cache.db", timeout=0.05)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock, as a busy sibling worker would
        cache.set_many({"a": ERROR})
        assert cache.health()["status"] == "ok"
        assert cache.stats()["l2"]["errors"] == 1
    finally:
        other.rollback()
        other.close()
    cache.set_many({"b": ERROR})
    assert TemplateCache(tmp_path).get_many(["a", "b"]) == {"b": ERROR}
