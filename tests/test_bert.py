"""The BERT tier: lazy single load, threshold routing, degraded modes, a responsive loop.

Tests marked slow use the real all-MiniLM-L6-v2, loaded once per session (``shared_encoder``).
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.settings import Settings
from processors.bert import BertTier, Encoder, load_encoder
from processors.head import DEFAULT_HEAD_PATH, Head, save_head
from processors.pipeline import Classifier
from processors.records import LogRecord, Tier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def shared_encoder() -> Encoder:
    """The one real model of the test session (other test modules import this)."""
    return load_encoder(threads=1)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return shared_encoder()


def counting_loader(encoder: Encoder) -> tuple[list[int], object]:
    calls: list[int] = []

    def load() -> Encoder:
        calls.append(1)
        time.sleep(0.2)  # a slow load: every concurrent caller arrives while it runs
        return encoder

    return calls, load


class FlatEncoder:
    """A stand-in model: the same unit vector for every text (no torch)."""

    model_id, dims, max_tokens = "flat", 384, 128

    def embed(self, texts):
        return np.full((len(texts), self.dims), 384 ** -0.5, dtype=np.float32)


async def test_a_failed_model_load_is_tried_again_after_the_retry_interval() -> None:
    attempts: list[int] = []

    def flaky() -> Encoder:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("model folder on a volume not mounted yet")
        return FlatEncoder()  # type: ignore[return-value]

    tier = BertTier(loader=flaky, threshold=0.0, load_retry_seconds=0.2)
    first = await tier.decide(["worker <NUM> started"])
    assert first[0].reason == "bert_unavailable" and tier.health()["status"] == "degraded"
    assert (await tier.decide(["worker <NUM> started"]))[0].reason == "bert_unavailable"
    assert attempts == [1]  # not before the interval
    await asyncio.sleep(0.25)
    again = await tier.decide(["worker <NUM> started"])
    assert again[0].label is not None and tier.health()["status"] == "ok"
    assert attempts == [1, 1]
    await tier.aclose()


def test_a_model_replaced_in_place_changes_the_fingerprint(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"v1 weights")
    before = BertTier(model_path=model).fingerprint
    assert BertTier(model_path=model).fingerprint == before
    (model / "model.safetensors").write_bytes(b"v2 weights, longer")
    assert BertTier(model_path=model).fingerprint != before


def test_importing_the_tier_imports_neither_torch_nor_sklearn() -> None:
    code = ("import sys, processors.bert, app.cli_train; "
            "print('torch' in sys.modules or 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"


async def test_missing_model_degrades_and_lines_fall_through(tmp_path: Path) -> None:
    tier = BertTier(model_path=tmp_path / "no-model")
    assert isinstance(tier, Tier)
    decisions = await tier.decide(["User <NUM> logged in"])
    assert decisions[0].label is None and decisions[0].reason == "bert_unavailable"
    assert decisions[0].cacheable is False
    health = tier.health()
    assert health["status"] == "degraded" and not health["loaded"]
    assert "no-model" in health["error"]
    await tier.aclose()


async def test_head_with_unknown_labels_degrades_without_loading_the_model(tmp_path: Path) -> None:
    weights = np.zeros((2, 384), dtype=np.float32)
    path = save_head(Head(weights, np.zeros(2, np.float32), ("Error", "Alien")), tmp_path / "h")
    calls: list[int] = []
    tier = BertTier(head_path=path, allowed_labels=["Error", "HTTP Status"],
                    loader=lambda: calls.append(1))  # type: ignore[arg-type,return-value]
    assert tier.health()["status"] == "degraded" and "Alien" in tier.health()["error"]
    assert (await tier.decide(["x"]))[0].reason == "bert_unavailable"
    assert calls == []
    await tier.aclose()


def test_from_settings_reads_the_bert_section(tmp_path: Path) -> None:
    settings = Settings(bert_threshold=0.8, bert_batch_size=8, bert_max_wait_ms=2,
                        cache_dir=tmp_path)
    tier = BertTier.from_settings(settings)
    assert tier.threshold == 0.8 and tier.head is not None
    assert tier.health()["status"] == "not_loaded"
    other = BertTier.from_settings(settings.model_copy(update={"bert_threshold": 0.6}))
    assert other.fingerprint != tier.fingerprint


def test_without_a_set_threshold_the_head_brings_its_calibrated_one(tmp_path: Path) -> None:
    default = BertTier.from_settings(Settings(cache_dir=tmp_path))
    assert default.head is not None
    calibrated = default.head.metadata["threshold"]
    assert 0.3 < calibrated < 1.0 and default.threshold == calibrated
    assert default.health()["threshold"] == calibrated
    bare = save_head(default.head, tmp_path / "bare.npz", {"threshold": None})
    assert BertTier(head_path=bare).threshold == 0.5  # a head that names none


@pytest.mark.slow
async def test_lazy_load_happens_once_under_concurrency(encoder: Encoder) -> None:
    calls, loader = counting_loader(encoder)
    tier = BertTier(loader=loader)  # type: ignore[arg-type]
    await tier.start()  # warmup off: start loads nothing
    assert calls == [] and tier.health()["status"] == "not_loaded"
    results = await asyncio.gather(*(tier.decide([f"Job {i} failed"]) for i in range(20)))
    assert calls == [1]
    assert all(len(r) == 1 for r in results)
    assert tier.health()["status"] == "ok" and tier.health()["load_seconds"] >= 0.2
    await tier.aclose()


@pytest.mark.slow
async def test_warmup_loads_at_start(encoder: Encoder) -> None:
    calls, loader = counting_loader(encoder)
    tier = BertTier(warmup=True, loader=loader)  # type: ignore[arg-type]
    await tier.start()
    assert calls == [1] and tier.health()["loaded"]
    await tier.aclose()


@pytest.mark.slow
async def test_threshold_routes_low_confidence_lines_onward(encoder: Encoder) -> None:
    lines = ["Failed password for root from <IP> port <NUM> ssh2",
             "GET /api/v1/orders HTTP/1.1 <NUM> <NUM>", "lorem ipsum dolor"]
    sure = BertTier(threshold=0.0, loader=lambda: encoder)
    never = BertTier(threshold=1.0, loader=lambda: encoder)
    decided, passed = await sure.decide(lines), await never.decide(lines)
    assert decided[0].label == "Security Alert" and decided[1].label == "HTTP Status"
    assert all(d.label is not None and d.reason is None for d in decided)
    for confident, low in zip(decided, passed, strict=True):
        assert low.label is None and low.reason == "low_confidence" and low.cacheable
        assert low.confidence == pytest.approx(confident.confidence)  # the top probability
    await sure.aclose()
    await never.aclose()


@pytest.mark.slow
async def test_event_loop_stays_responsive_while_5000_lines_are_encoded(encoder: Encoder) -> None:
    tier = BertTier(loader=lambda: encoder)
    await tier.decide(["warm"])
    lines = [f"Request {i} to service {i % 97} failed after retry {i % 7}" for i in range(5000)]
    big = asyncio.create_task(tier.decide(lines))
    await asyncio.sleep(0.3)  # the batches are running now
    lags, health_times = [], []
    for _ in range(20):
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)
        started = time.perf_counter()
        health = tier.health()
        health_times.append(time.perf_counter() - started)
    assert not big.done() and health["queued"] > 0  # still encoding the 5,000 lines
    assert max(lags) < 0.1, lags
    assert max(health_times) < 0.01
    big.cancel()
    await tier.aclose()


@pytest.mark.slow
async def test_pipeline_labels_default_route_lines_with_the_bert_tier(encoder: Encoder) -> None:
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    tier = BertTier(head_path=DEFAULT_HEAD_PATH, allowed_labels=taxonomy.label_names,
                    loader=lambda: encoder)
    classifier = Classifier(taxonomy, {"bert": tier})
    records = [LogRecord("ModernCRM", "Connection to 10.0.0.5:5432 refused, retrying in 5s"),
               LogRecord("ModernHR", "User alice logged in."),
               LogRecord("nginx", "GET /api/v1/orders 404 12ms")]
    verdicts = await classifier.classify(records)
    assert [v.tier for v in verdicts] == ["bert", "regex", "bert"]
    assert verdicts[0].label == "Error" and verdicts[2].label == "HTTP Status"
    await classifier.aclose()


def test_health_says_whether_the_head_matches_the_current_masker(tmp_path: Path) -> None:
    weights = np.zeros((1, 384), dtype=np.float32)
    path = save_head(Head(weights, np.zeros(1, np.float32), ("Error",)), tmp_path / "h",
                     {"masker_sha256": "0000000000000000"})
    assert BertTier(head_path=path).health()["head"]["masker_matches"] is False


async def test_preload_returns_at_once_and_the_first_requests_share_its_load() -> None:
    calls: list[int] = []

    def slow_load() -> Encoder:
        calls.append(1)
        time.sleep(0.3)
        return FlatEncoder()  # type: ignore[return-value]

    tier = BertTier(preload=True, loader=slow_load, threshold=0.0)
    started = time.perf_counter()
    await tier.start()
    assert time.perf_counter() - started < 0.1  # health can answer while the model loads
    assert tier.health()["status"] == "loading"
    results = await asyncio.gather(*(tier.decide([f"Job {i} failed"]) for i in range(20)))
    assert calls == [1]  # the background load, shared by all 20 first requests
    assert all(r[0].label is not None for r in results)
    assert tier.health()["status"] == "ok" and tier.health()["load_seconds"] >= 0.3
    await tier.start()  # a second start loads nothing more
    assert calls == [1]
    await tier.aclose()


async def test_a_failed_preload_degrades_and_is_tried_again_later() -> None:
    attempts: list[int] = []

    def flaky() -> Encoder:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("model folder on a volume not mounted yet")
        return FlatEncoder()  # type: ignore[return-value]

    tier = BertTier(preload=True, loader=flaky, threshold=0.0, load_retry_seconds=0.2)
    await tier.start()
    assert (await tier.decide(["worker <NUM> started"]))[0].reason == "bert_unavailable"
    assert tier.health()["status"] == "degraded" and "not mounted" in tier.health()["error"]
    await asyncio.sleep(0.25)
    assert (await tier.decide(["worker <NUM> started"]))[0].label is not None
    assert attempts == [1, 1]
    await tier.aclose()


async def test_closing_during_a_preload_leaves_nothing_pending() -> None:
    tier = BertTier(preload=True, loader=lambda: time.sleep(0.3) or FlatEncoder())  # type: ignore[arg-type,func-returns-value]
    await tier.start()
    await tier.aclose()  # while the load still runs in its thread
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await asyncio.sleep(0)
    assert all(t.done() for t in pending)


def test_from_settings_reads_the_backend_and_preload(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, bert_backend="onnx-int8", bert_preload=False)
    tier = BertTier.from_settings(settings)
    assert tier.backend == "onnx-int8" and tier.preload is False
    assert tier.health()["backend"] == "onnx-int8"
    torch_tier = BertTier.from_settings(settings.model_copy(update={"bert_backend": "torch"}))
    assert torch_tier.fingerprint != tier.fingerprint
    assert BertTier.from_settings(Settings(cache_dir=tmp_path)).preload is True


@pytest.mark.slow
async def test_the_default_backend_labels_as_fp32_does_through_the_tier(
        tmp_path: Path, encoder: Encoder) -> None:
    lines = ["Failed password for root from <IP> port <NUM> ssh2",
             "GET <PATH> HTTP/<NUM> status: <NUM> len: <NUM> time: <NUM>",
             "Memory usage at <NUM> on node <HOST>"]
    default = BertTier.from_settings(Settings(cache_dir=tmp_path / "cache", bert_threads=1))
    fp32 = BertTier(loader=lambda: encoder)
    await default.start()  # preload: in the background
    got, expected = await default.decide(lines), await fp32.decide(lines)
    assert [d.label for d in got] == [d.label for d in expected]
    assert default.loads == 1 and default.health()["backend"] == default.backend
    await default.aclose()
    await fp32.aclose()
