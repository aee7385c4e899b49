"""LLM verdicts in the cache expire (issue 15, item 11): a poisoned label cannot live forever.

The model tiers' other answers are a pure function of the key and stay until evicted; an
LLM's label may have been steered by the template itself, so it is asked again in time.
"""

import time

from processors.cache import TemplateCache
from processors.records import Outcome

BERT = Outcome("Error", 0.9, "bert", None)
LLM = Outcome("Security Alert", None, "llm", None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_llm_verdicts_leave_memory_after_their_own_ttl_others_stay():
    clock = FakeClock()
    cache = TemplateCache(None, l1_ttl_seconds=3600, llm_ttl_seconds=60, timer=clock)
    cache.set_many({"bert": BERT, "llm": LLM})
    clock.now += 59
    assert cache.get_many(["bert", "llm"]) == {"bert": BERT, "llm": LLM}
    clock.now += 2
    assert cache.get_many(["bert", "llm"]) == {"bert": BERT}


def test_llm_verdicts_leave_the_disk_after_their_ttl(tmp_path):
    TemplateCache(tmp_path, llm_ttl_seconds=0.3).set_many({"bert": BERT, "llm": LLM})
    assert TemplateCache(tmp_path).get_many(["bert", "llm"]) == {"bert": BERT, "llm": LLM}
    time.sleep(0.4)
    assert TemplateCache(tmp_path).get_many(["bert", "llm"]) == {"bert": BERT}


def test_the_llm_ttl_has_a_default_and_is_reported():
    stats = TemplateCache(None).stats()["l1"]
    assert stats["llm_ttl_seconds"] == 86_400.0


def test_the_llm_ttl_is_a_setting(tmp_path) -> None:
    from app.settings import Settings

    settings = Settings(cache_dir=tmp_path, llm_cache_ttl_seconds=60)
    assert TemplateCache.from_settings(settings).llm_ttl_seconds == 60
