"""The shared cache level on a real ``redis-server``: round trip, JSON values, the LLM TTL,
leases across "replicas" (two TemplateCache instances on one Redis), the breaker on a
killed or hung server, reconnection after a restart, clear, and no password anywhere.

Skips cleanly where ``redis-server`` is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import redis

from monitoring import MetricsRegistry
from processors.cache import TemplateCache
from processors.cache_redis import RedisLevel
from processors.records import Outcome
from processors.redaction import redact_url as redact
from tests.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

ERROR = Outcome("Error", 0.9, "bert", None)
LLM = Outcome("Security Alert", None, "llm", None)
LOW = Outcome("Unclassified", None, "none", "low_confidence")
LOG = "processors.cache_redis"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield running
    running.stop()


@pytest.fixture
def raw(server):
    """A plain client on the module's server, emptied for each test."""
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def caches():
    """Builds TemplateCaches on a URL and closes them all at the end of the test."""
    made: list[TemplateCache] = []

    def make(url: str, **options) -> TemplateCache:
        cache = TemplateCache(None, redis_url=url, **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


@pytest.fixture
def own_server(tmp_path):
    """A server of this test's own, to kill, pause or restart."""
    running = RedisServer(tmp_path).start()
    yield running
    running.stop()


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# -- the cache ------------------------------------------------------------------------------


def test_a_verdict_one_replica_stores_is_served_to_another(server, raw, caches):
    a, b = caches(server.url), caches(server.url)
    a.set_many({"k1": ERROR, "k2": LOW})
    assert b.get_many(["k1", "k2", "nope"]) == {"k1": ERROR, "k2": LOW}
    assert b.get_memory(["k1", "k2"]) == {"k1": ERROR, "k2": LOW}  # promoted to L1
    stats = b.stats()
    assert (stats["l2"]["hits"], stats["l2"]["misses"]) == (2, 1)
    assert stats["l2"]["backend"] == "redis" and stats["l2"]["state"] == "ok"


def test_values_are_versioned_json_under_the_logclass_namespace(server, raw, caches):
    caches(server.url).set_many({"fp\x1froute\x1fUser <*> logged in": ERROR})
    keys = raw.keys("*")
    assert keys == [b"logclass:v1:fp\x1froute\x1fUser <*> logged in"]
    assert json.loads(raw.get(keys[0])) == ["Error", 0.9, "bert", None]


def test_non_cacheable_outcomes_are_not_stored(server, raw, caches):
    caches(server.url).set_many({"down": Outcome("Unclassified", None, "none", "x", False)})
    assert raw.dbsize() == 0


def test_an_existing_verdict_is_not_overwritten(server, raw, caches):
    a = caches(server.url)
    a.set_many({"k": ERROR})
    caches(server.url).set_many({"k": LOW})
    assert caches(server.url).get_many(["k"]) == {"k": ERROR}


def test_llm_verdicts_expire_after_their_ttl_others_stay(server, raw, caches):
    cache = caches(server.url, llm_ttl_seconds=60.0)
    cache.set_many({"llm": LLM, "bert": ERROR})
    assert 55_000 < raw.pttl(b"logclass:v1:llm") <= 60_000
    assert raw.pttl(b"logclass:v1:bert") == -1  # no expiry, like the disk level
    short = caches(server.url, llm_ttl_seconds=0.2)
    short.set_many({"llm2": LLM})
    time.sleep(0.35)
    assert caches(server.url).get_many(["llm2"]) == {}


def test_a_damaged_or_planted_value_is_a_miss_and_goes_away(server, raw, caches):
    raw.set(b"logclass:v1:pickle", b"\x80\x04\x95\x10\x00cos\nsystem\n")
    raw.set(b"logclass:v1:shape", b'{"label": "Error"}')
    cache = caches(server.url)
    assert cache.get_many(["pickle", "shape"]) == {}
    assert raw.exists(b"logclass:v1:pickle", b"logclass:v1:shape") == 0
    assert cache.health()["status"] == "ok"  # a bad entry is not an outage


def test_odd_keys_round_trip(server, raw, caches):
    keys = {"é ünïcode \U0001f600": ERROR, "lone \udcff surrogate": LOW, "x" * 9000: ERROR}
    caches(server.url).set_many(keys)
    assert caches(server.url).get_many(list(keys)) == keys


def test_clear_removes_logclass_verdicts_only(server, raw, caches):
    raw.set(b"someone-else:key", b"1")
    raw.set(b"logclass:v0:old-format", b"[]")
    cache = caches(server.url)
    cache.set_many({f"k{i}": ERROR for i in range(1200)})
    assert cache.lease(["held"]) == {"held"}
    cleared = cache.clear()
    assert cleared == {"l1": 1200, "l2": 1201}
    assert raw.get(b"someone-else:key") == b"1"  # not FLUSHDB
    assert raw.exists(b"logclass:lease:v1:held") == 1  # leases run out by themselves
    assert cache.get_many(["k1"]) == {}


def test_memory_lookup_never_touches_redis_and_counts_hits_only(server, raw, caches):
    a = caches(server.url)
    a.set_many({"k": ERROR})
    b = caches(server.url)
    assert b.get_memory(["k"]) == {}  # in Redis, not in b's memory
    assert b.get_many(["k"]) == {"k": ERROR}
    assert b.get_memory(["k", "x"]) == {"k": ERROR}
    l1 = b.stats()["l1"]
    assert (l1["hits"], l1["misses"]) == (1, 1)


def test_from_settings_uses_redis_instead_of_the_disk(server, raw, tmp_path):
    from app.settings import Settings

    settings = Settings(cache_dir=tmp_path / "disk", redis_url=server.url,
                        redis_timeout_seconds=0.5, redis_lease_seconds=3.0)  # fmt: skip
    cache = TemplateCache.from_settings(settings, MetricsRegistry())
    assert cache is not None
    try:
        stats = cache.stats()["l2"]
        assert stats["backend"] == "redis" and stats["lease_seconds"] == 3.0
        assert cache.health()["status"] == "ok"
        assert not (tmp_path / "disk").exists()
    finally:
        cache.close()


def test_entry_count_is_exported_as_a_gauge(server, raw, caches):
    registry = MetricsRegistry()
    caches(server.url, registry=registry).set_many({"a": ERROR, "b": LOW})
    assert registry.snapshot().gauge("cache_entries", level="l2") == 2


# -- leases: one replica classifies, the others wait -----------------------------------------


def test_a_lease_goes_to_one_replica_and_the_other_waits_for_its_verdict(server, raw, caches):
    a, b = caches(server.url), caches(server.url)
    assert a.lease(["k1", "k2"]) == {"k1", "k2"}
    assert b.lease(["k1", "k2", "k3"]) == {"k3"}  # k1, k2 are a's

    def a_classifies() -> None:
        time.sleep(0.2)
        a.set_many({"k1": ERROR, "k2": LLM})
        a.release(["k1", "k2"])

    worker = threading.Thread(target=a_classifies)
    started = time.monotonic()
    worker.start()
    found = b.wait_for(["k1", "k2"], timeout=5.0)
    took = time.monotonic() - started
    worker.join()
    assert found == {"k1": ERROR, "k2": LLM}
    assert 0.15 < took < 1.0
    assert b.get_memory(["k1", "k2"]) == found  # promoted to b's memory
    assert raw.exists(b"logclass:lease:v1:k1") == 0
    assert b.stats()["l2"]["leases_held_elsewhere"] == 2


def test_a_lease_released_without_a_verdict_stops_the_wait_at_once(server, raw, caches):
    a, b = caches(server.url), caches(server.url)
    assert a.lease(["k"]) == {"k"}
    threading.Timer(0.1, a.release, args=(["k"],)).start()  # e.g. llm_unavailable
    started = time.monotonic()
    assert b.wait_for(["k"], timeout=5.0) == {}
    assert time.monotonic() - started < 0.6
    assert b.stats()["l2"]["waits_orphaned"] == 1


def test_a_dead_holder_costs_at_most_the_lease_time(server, raw, caches):
    a = caches(server.url, redis_lease_seconds=0.4)
    b = caches(server.url, redis_lease_seconds=0.4)
    assert a.lease(["k"]) == {"k"}
    a.close()  # "dies" holding the lease
    started = time.monotonic()
    assert b.wait_for(["k"], timeout=5.0) == {}
    assert 0.2 < time.monotonic() - started < 1.0
    assert b.lease(["k"]) == {"k"}


def test_wait_for_gives_up_after_its_timeout(server, raw, caches):
    a, b = caches(server.url), caches(server.url)
    a.lease(["k"])
    started = time.monotonic()
    assert b.wait_for(["k"], timeout=0.3) == {}
    assert 0.25 < time.monotonic() - started < 1.5
    assert b.stats()["l2"]["waits_timed_out"] == 1


def test_a_verdict_that_landed_before_the_lease_is_not_classified_again(server, raw, caches):
    a, b = caches(server.url), caches(server.url)
    a.set_many({"k": ERROR})  # b missed it a moment ago, then asks for the lease
    assert b.lease(["k"]) == set()
    assert raw.exists(b"logclass:lease:v1:k") == 0  # and did not keep one
    assert b.wait_for(["k"], timeout=1.0) == {"k": ERROR}


def test_release_drops_only_this_processes_leases(server, raw, caches):
    a = caches(server.url, redis_lease_seconds=0.2)
    b = caches(server.url)
    a.lease(["k"])
    time.sleep(0.3)  # a's lease ran out; b takes the key
    assert b.lease(["k"]) == {"k"}
    a.release(["k"])
    assert raw.exists(b"logclass:lease:v1:k") == 1


def test_poll_says_what_is_done_and_what_is_still_held_in_one_look(server, raw, caches):
    a, b = caches(server.url, redis_lease_seconds=7.0), caches(server.url)
    assert a.lease(["done", "held", "dropped"]) == {"done", "held", "dropped"}
    a.set_many({"done": ERROR})
    a.release(["done", "dropped"])
    found, held = b.poll(["done", "held", "dropped", "never"])
    assert found == {"done": ERROR} and held == {"held"}
    assert b.get_memory(["done"]) == {"done": ERROR}
    assert (a.lease_seconds, TemplateCache(None).lease_seconds) == (7.0, 0.0)
    assert TemplateCache(None).poll(["x"]) == ({}, set())


def test_without_redis_every_key_is_this_processes(tmp_path):
    cache = TemplateCache(tmp_path)
    assert cache.lease(["a", "b"]) == {"a", "b"}
    started = time.monotonic()
    assert cache.wait_for(["a"], timeout=5.0) == {}
    assert time.monotonic() - started < 0.05
    cache.release(["a"])  # a no-op
    assert not cache.shared


def test_concurrent_leases_from_many_threads_give_each_key_to_one(server, raw, caches):
    replicas = [caches(server.url) for _ in range(4)]
    keys = [f"k{i}" for i in range(200)]
    won: list[set[str]] = [set() for _ in replicas]

    def grab(i: int) -> None:
        won[i] = replicas[i].lease(keys)

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(w) for w in won) == len(keys)
    assert set().union(*won) == set(keys)


# -- faults ---------------------------------------------------------------------------------


def test_a_killed_server_degrades_to_memory_fast_and_never_raises(own_server, caches, caplog):
    cache = caches(own_server.url)
    cache.set_many({"warm": ERROR})
    own_server.kill()
    with caplog.at_level(logging.WARNING, logger=LOG):
        started = time.monotonic()
        for _ in range(20):
            assert cache.get_many(["warm", "cold"]) == {"warm": ERROR}  # L1 still serves
            cache.set_many({"new": LOW})
            assert cache.lease(["x", "y"]) == {"x", "y"}  # classify it ourselves
            assert cache.wait_for(["x"], timeout=5.0) == {}
            cache.release(["x"])
        took = time.monotonic() - started
    assert took < 2.0  # refused connections, then the open breaker: no waiting
    health = cache.health()
    assert health["status"] == "degraded" and health["l2"] == "failed"
    assert health["breaker"] in ("open", "half_open")
    assert "ConnectionError" in health["last_error"]
    assert cache.clear()["l2"] == 0
    warnings = [r for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per outage


def test_a_hung_server_costs_at_most_the_timeout_per_call_then_nothing(own_server, caches):
    cache = caches(own_server.url, redis_timeout_seconds=0.2)
    cache.set_many({"warm": ERROR})
    own_server.pause()
    try:
        times = []
        for _ in range(8):
            started = time.monotonic()
            cache.get_many(["cold"])
            times.append(time.monotonic() - started)
        assert max(times) < 1.0  # one command's timeout (with slack for a loaded machine)
        assert sum(times[4:]) < 0.05  # the breaker is open: no call waits any more
        assert cache.health()["status"] == "degraded"
        assert "Timeout" in cache.health()["last_error"]
    finally:
        own_server.resume()


def test_it_reconnects_by_itself_after_a_restart_and_shares_again(own_server, caches):
    a, b = caches(own_server.url), caches(own_server.url)
    own_server.kill()
    for _ in range(5):
        a.get_many(["k"])
    assert a.health()["status"] == "degraded"
    own_server.start()  # same port, empty (no persistence)
    # no traffic needed: the probe thread finds it back within a cool-down or two
    assert wait_until(lambda: a.health()["status"] == "ok", timeout=10.0), a.health()
    assert a.lease(["k"]) == {"k"}
    assert b.lease(["k"]) == set()
    a.set_many({"k": ERROR})
    a.release(["k"])
    assert b.wait_for(["k"], timeout=2.0) == {"k": ERROR}


def test_startup_with_redis_down_serves_from_memory_and_recovers(tmp_path, caches):
    later = RedisServer(tmp_path)  # port chosen, nothing listening yet
    cache = caches(later.url)
    assert cache.health()["status"] == "degraded"
    cache.set_many({"k": ERROR})
    assert cache.get_many(["k"]) == {"k": ERROR}
    later.start()
    try:
        assert wait_until(lambda: cache.health()["status"] == "ok", timeout=10.0)
    finally:
        later.stop()


# -- secrets --------------------------------------------------------------------------------


def test_a_password_url_works_and_a_wrong_password_is_never_shown(tmp_path, caches, caplog):
    secret = "MARKER-redis-pw-7f3"
    server = RedisServer(tmp_path, password=secret).start()
    try:
        good = caches(server.url)
        good.set_many({"k": ERROR})
        assert caches(server.url).get_many(["k"]) == {"k": ERROR}
        assert secret not in json.dumps(good.health()) and "***" in good.health()["url"]
        wrong = server.url.replace(secret, "MARKER-wrong-pw-9a1")
        with caplog.at_level(logging.DEBUG):
            bad = caches(wrong)
            for _ in range(4):
                bad.get_many(["k"])
        health = bad.health()
        assert health["status"] == "degraded"
        shown = json.dumps([health, bad.stats()]) + caplog.text
        assert "MARKER-wrong-pw" not in shown and secret not in shown
        assert health["last_error"]  # still says why
    finally:
        server.stop()


def test_redact_hides_the_password_only():
    assert redact("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("rediss://user:pw@[::1]:6380/2") == "rediss://user:***@[::1]:6380/2"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"


def test_a_url_of_another_scheme_is_refused_without_its_password():
    with pytest.raises(ValueError) as raised:
        RedisLevel("http://:MARKER-pw@h:1/0", MetricsRegistry())
    assert "MARKER-pw" not in str(raised.value) and "redis://" in str(raised.value)


def test_it_needs_only_the_commands_the_docs_grant(server, raw, caches):
    """The least-privilege ACL user of docs/scaling.md is enough for every operation."""
    raw.execute_command(
        "ACL", "SETUSER", "logclass-test", "on", ">MARKER-acl-pw", "~logclass:*", "resetchannels",
        "-@all", "+ping", "+get", "+mget", "+set", "+del", "+unlink", "+scan", "+dbsize",
        "+evalsha", "+eval", "+script|load", "+multi", "+exec", "+client|setname", "+select",
    )  # fmt: skip
    try:
        url = server.url.replace("redis://", "redis://logclass-test:MARKER-acl-pw@")
        a, b = caches(url), caches(url)
        a.set_many({"k": ERROR, "llm": LLM})
        assert b.get_many(["k", "llm"]) == {"k": ERROR, "llm": LLM}
        assert a.lease(["x"]) == {"x"} and b.lease(["x"]) == set()
        a.set_many({"x": LOW})
        a.release(["x"])
        assert b.wait_for(["x"], timeout=1.0) == {"x": LOW}
        assert a.stats()["l2"]["size"] == 3, (raw.keys("*"), a.health()["last_error"])
        assert a.clear()["l2"] == 3
        assert a.health()["status"] == "ok" and a.health()["last_error"] is None
        assert b.health()["last_error"] is None
    finally:
        raw.execute_command("ACL", "DELUSER", "logclass-test")
