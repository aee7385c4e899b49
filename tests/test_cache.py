"""TemplateCache: L1 → L2 lookups, TTL, thread safety, stats, clear, no pickle on disk."""

import sys
import threading
from collections import Counter

import diskcache

from monitoring import MetricsRegistry
from processors.cache import TemplateCache
from processors.cache_disk import FORMAT
from processors.records import Outcome

ERROR = Outcome("Error", 0.9, "bert", None)
LOW = Outcome("Unclassified", None, "none", "low_confidence")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingRegistry(MetricsRegistry):
    """The real registry, also remembering each ``count`` call's total by (name, level)."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: Counter[tuple[str, str]] = Counter()

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        super().count(name, value, **labels)
        self.totals[name, labels.get("level", "")] += value


def test_lookup_returns_only_the_keys_either_level_holds(tmp_path):
    cache = TemplateCache(tmp_path)
    cache.set_many({"a": ERROR, "b": LOW})
    assert cache.get_many(["a", "b", "zz"]) == {"a": ERROR, "b": LOW}
    assert cache.get_many([]) == {}


def test_non_cacheable_outcomes_are_not_stored(tmp_path):
    cache = TemplateCache(tmp_path)
    cache.set_many({"down": Outcome("Unclassified", None, "none", "llm_unavailable", False)})
    assert cache.get_many(["down"]) == {}
    assert cache.stats()["l2"]["size"] == 0


def test_a_new_instance_on_the_same_directory_serves_from_l2_and_promotes_to_l1(tmp_path):
    registry = RecordingRegistry()
    TemplateCache(tmp_path).set_many({"a": ERROR})
    cache = TemplateCache(tmp_path, registry=registry)
    assert cache.get_many(["a"]) == {"a": ERROR}  # L1 miss, L2 hit
    assert cache.get_many(["a"]) == {"a": ERROR}  # now an L1 hit
    stats = cache.stats()
    assert (stats["l1"]["hits"], stats["l1"]["misses"]) == (1, 1)
    assert (stats["l2"]["hits"], stats["l2"]["misses"]) == (1, 0)
    assert registry.totals["cache_hits", "l1"] == 1
    assert registry.totals["cache_misses", "l1"] == 1
    assert registry.totals["cache_hits", "l2"] == 1
    assert registry.totals["cache_misses", "l2"] == 0


def test_l2_holds_json_text_not_pickles(tmp_path):
    TemplateCache(tmp_path).set_many({"a": LOW})
    with diskcache.Cache(str(tmp_path)) as raw:
        assert raw.get(f"{FORMAT}\x1fa") == '["Unclassified",null,"none","low_confidence"]'


def test_a_planted_pickle_in_l2_is_refused_and_removed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (sys.exit, ("unpickled!",))

    cache = TemplateCache(tmp_path)
    with diskcache.Cache(str(tmp_path)) as raw:
        raw.set(f"{FORMAT}\x1fevil", Boom())
    assert cache.get_many(["evil"]) == {}  # no SystemExit: never unpickled
    assert cache.stats()["l2"]["errors"] == 1
    assert cache.health()["status"] == "ok"  # one bad entry is not a broken disk
    with diskcache.Cache(str(tmp_path)) as raw:
        assert f"{FORMAT}\x1fevil" not in raw


def test_an_entry_of_another_shape_is_a_miss(tmp_path):
    cache = TemplateCache(tmp_path)
    with diskcache.Cache(str(tmp_path)) as raw:
        raw.set(f"{FORMAT}\x1fodd", '{"label": "Error"}')
        raw.set(f"{FORMAT}\x1fnan", '["Error","high","bert",null]')
    assert cache.get_many(["odd", "nan"]) == {}
    assert cache.stats()["l2"]["errors"] == 2


def test_l1_entries_expire_after_the_ttl():
    clock = FakeClock()
    cache = TemplateCache(None, l1_ttl_seconds=60, timer=clock)
    cache.set_many({"a": ERROR})
    clock.now += 59
    assert cache.get_many(["a"]) == {"a": ERROR}
    clock.now += 2
    assert cache.get_many(["a"]) == {}
    assert cache.stats()["l1"]["size"] == 0


def test_an_expired_l1_entry_comes_back_from_l2(tmp_path):
    clock = FakeClock()
    cache = TemplateCache(tmp_path, l1_ttl_seconds=60, timer=clock)
    cache.set_many({"a": ERROR})
    clock.now += 61
    assert cache.get_many(["a"]) == {"a": ERROR}
    assert cache.stats()["l2"]["hits"] == 1


def test_l1_keeps_at_most_max_entries_and_counts_evictions():
    cache = TemplateCache(None, l1_max_entries=3)
    cache.set_many({str(i): ERROR for i in range(5)})
    stats = cache.stats()["l1"]
    assert (stats["size"], stats["capacity"], stats["evictions"]) == (3, 3, 2)
    assert cache.get_many(["0", "1", "4"]) == {"4": ERROR}


def test_clear_empties_both_levels_and_says_what_each_held(tmp_path):
    cache = TemplateCache(tmp_path, l1_max_entries=2)
    cache.set_many({"a": ERROR, "b": LOW, "c": ERROR})
    assert cache.clear() == {"l1": 2, "l2": 3}
    assert cache.get_many(["a", "b", "c"]) == {}
    assert TemplateCache(tmp_path).get_many(["a", "b", "c"]) == {}
    assert cache.stats()["l1"]["evictions"] == 1  # clearing is not evicting
    assert cache.clear() == {"l1": 0, "l2": 0}


def test_stats_report_size_capacity_and_hit_ratio_per_level(tmp_path):
    cache = TemplateCache(tmp_path, l1_max_entries=10, l2_size_limit_bytes=1 << 20)
    cache.set_many({"a": ERROR})
    cache.get_many(["a", "b", "a", "c"])
    stats = cache.stats()
    assert stats["l1"] | {"ttl_seconds": None} == {
        "size": 1,
        "capacity": 10,
        "ttl_seconds": None,
        "hits": 2,
        "misses": 2,
        "hit_ratio": 0.5,
        "evictions": 0,
        "expirations": 0,
        "errors": 0,
        "llm_ttl_seconds": 86_400.0,
    }
    l2 = stats["l2"]
    assert (l2["state"], l2["size"], l2["capacity_bytes"]) == ("ok", 1, 1 << 20)
    assert (l2["hits"], l2["misses"], l2["hit_ratio"], l2["errors"]) == (0, 2, 0.0, 0)
    assert l2["volume_bytes"] > 0


def test_memory_only_cache_reports_l2_off():
    cache = TemplateCache(None)
    assert cache.stats()["l2"] == {"state": "off"}
    assert cache.health() == {"status": "ok", "l2": "off", "last_error": None}
    assert cache.clear() == {"l1": 0, "l2": 0}


def test_l2_evictions_keep_the_disk_under_its_size_limit(tmp_path):
    cache = TemplateCache(tmp_path, l1_max_entries=10, l2_size_limit_bytes=64 * 1024)
    for batch in range(20):
        cache.set_many({f"{batch}-{i}-" + "x" * 400: ERROR for i in range(50)})
    l2 = cache.stats()["l2"]
    assert l2["evictions"] > 0
    assert l2["size"] < 1000
    assert l2["volume_bytes"] < 64 * 1024 * 4  # diskcache culls in steps; same order


def test_concurrent_threads_never_see_a_wrong_or_broken_entry(tmp_path):
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        cache = TemplateCache(tmp_path, l1_max_entries=64, l1_ttl_seconds=3600)
        outcomes = {f"k{i}": Outcome(f"label{i}", i / 1000, "bert", None) for i in range(400)}
        keys = list(outcomes)
        problems: list[BaseException] = []

        def work(seed: int) -> None:
            try:
                for round_ in range(60):
                    chunk = keys[(seed * 37 + round_ * 11) % 350 :][:50]
                    cache.set_many({k: outcomes[k] for k in chunk[:10]})
                    for key, outcome in cache.get_many(chunk).items():
                        assert outcome == outcomes[key], key
                    if round_ % 25 == seed % 25:
                        cache.clear()
            except BaseException as exc:  # noqa: BLE001 — reported by the main thread
                problems.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not problems, problems[:3]
    assert cache.stats()["l1"]["size"] <= 64
    final = cache.get_many(keys)
    assert final == {key: outcomes[key] for key in final}


def test_from_settings_is_none_when_caching_is_off(tmp_path):
    from app.settings import Settings

    assert TemplateCache.from_settings(Settings(cache_enabled=False)) is None
    settings = Settings(cache_dir=tmp_path / "c", cache_l1_max_entries=7, cache_l1_ttl_seconds=5.0)
    cache = TemplateCache.from_settings(settings, MetricsRegistry())
    assert cache is not None
    stats = cache.stats()
    assert (stats["l1"]["capacity"], stats["l1"]["ttl_seconds"]) == (7, 5.0)
    assert stats["l2"]["directory"] == str(tmp_path / "c")
    memory_only = TemplateCache.from_settings(
        Settings(cache_dir=tmp_path / "m", cache_l2_size_limit_bytes=0)
    )
    assert memory_only is not None and memory_only.stats()["l2"] == {"state": "off"}
    assert not (tmp_path / "m").exists()


def test_entry_counts_are_exported_as_gauges(tmp_path):
    registry = MetricsRegistry()
    cache = TemplateCache(tmp_path, l1_max_entries=2, registry=registry)
    cache.set_many({"a": ERROR, "b": LOW, "c": ERROR})
    snapshot = registry.snapshot()
    assert snapshot.gauge("cache_entries", level="l1") == 2
    assert snapshot.gauge("cache_entries", level="l2") == 3
