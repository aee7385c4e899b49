"""Corrections shared through a real redis-server: every replica applies the same ones."""

import time

import pytest

from processors.corrections import CorrectionError, CorrectionStore
from processors.corrections_redis import SharedCorrections
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
LABELS = Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names


@pytest.fixture
def server(tmp_path):
    redis = RedisServer(tmp_path, password="s3cret-pw").start()
    yield redis
    redis.stop()


def replica(tmp_path, server, name: str) -> CorrectionStore:
    store = CorrectionStore(tmp_path / name / "corrections.yaml", LABELS)
    SharedCorrections(store, server.url, poll_seconds=0.05).start()
    return store


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_correction_made_on_one_replica_reaches_the_other_within_a_second(tmp_path, server):
    a, b = replica(tmp_path, server, "a"), replica(tmp_path, server, "b")
    try:
        a.add("default", "disk <NUM> full", "Resource Usage")
        started = time.monotonic()
        assert eventually(lambda: b.label_for("default", "disk <NUM> full") == "Resource Usage")
        assert time.monotonic() - started < 1.0
        assert "disk <NUM> full" in (tmp_path / "b" / "corrections.yaml").read_text()  # snapshot
        b.remove("default", "disk <NUM> full")
        assert eventually(lambda: a.label_for("default", "disk <NUM> full") is None)
        assert b.health()["shared"].endswith(f"***@127.0.0.1:{server.port}/0")
    finally:
        a.close()
        b.close()


def test_an_empty_redis_is_seeded_from_the_local_file(tmp_path, server):
    local = CorrectionStore(tmp_path / "old" / "corrections.yaml", LABELS)
    local.add("nginx", "GET <PATH>", "HTTP Status")
    seeded = replica(tmp_path, server, "old")
    fresh = replica(tmp_path, server, "new")
    try:
        assert fresh.label_for("nginx", "GET <PATH>") == "HTTP Status"
    finally:
        seeded.close()
        fresh.close()


def test_redis_down_refuses_changes_keeps_serving_and_recovers(tmp_path, server):
    store = replica(tmp_path, server, "a")
    try:
        store.add("default", "t <NUM>", "Error")
        server.kill()
        with pytest.raises(CorrectionError, match="no replica applies it") as refused:
            store.add("default", "u <NUM>", "Error")
        assert "s3cret-pw" not in str(refused.value)
        assert store.label_for("default", "t <NUM>") == "Error"
        assert store.label_for("default", "u <NUM>") is None
        assert eventually(lambda: store.health()["status"] == "degraded")
        assert "s3cret-pw" not in str(store.health())
        server.start()  # same port, empty (no persistence): this replica seeds it again
        assert eventually(lambda: store.health()["status"] == "ok")
        store.add("default", "u <NUM>", "Error")
        other = replica(tmp_path, server, "b")
        assert other.label_for("default", "t <NUM>") == "Error"
        other.close()
    finally:
        store.close()
