"""Encoder backends: the same labels as torch fp32, a clear reason when one cannot run, and
an ONNX export that is made once, atomically, and kept in memory on a read-only disk.

Tests marked slow load the real model in every backend; the ONNX files are exported once
per test session (into a session temp dir) and shared by the tests after it.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from processors import encoders
from processors.bert import BertTier
from processors.encoders import BACKENDS, BackendError, load_encoder, resolve_backend
from processors.head import DEFAULT_HEAD_PATH, load_head

REPO = Path(__file__).resolve().parents[1]
LINES = [
    "Failed password for root from <IP> port <NUM> ssh2",
    "GET <PATH> HTTP/<NUM> status: <NUM> len: <NUM> time: <NUM>",
    "Memory usage at <NUM> on node <HOST>",
    "Multiple login failures occurred on user <NUM> account",
    "Disk <NUM> is almost full",
    "Job <NUM> failed: connection refused by <IP>",
    "API v1 endpoint is deprecated and will be removed in version <NUM>",
    "Backup completed successfully",
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders-cache")


@functools.cache
def _loaded(backend: str, cache_dir: Path) -> encoders.Encoder:
    return load_encoder(backend, threads=1, cache_dir=cache_dir)


def test_an_unknown_backend_names_the_ones_there_are() -> None:
    with pytest.raises(BackendError, match="torch, torch-int8, onnx, onnx-int8"):
        resolve_backend("tensorrt")
    assert resolve_backend(None) == encoders.DEFAULT_BACKEND
    assert all(resolve_backend(b) == b for b in BACKENDS)


async def test_an_unknown_backend_degrades_the_tier_without_loading() -> None:
    calls: list[int] = []
    tier = BertTier(backend="tensorrt", loader=lambda: calls.append(1))  # type: ignore[arg-type,return-value]
    decisions = await tier.decide(["Disk <NUM> is almost full"])
    assert decisions[0].reason == "bert_unavailable" and calls == []
    health = tier.health()
    assert health["status"] == "degraded" and "unknown bert backend 'tensorrt'" in health["error"]
    await tier.aclose()


async def test_a_missing_onnxruntime_degrades_with_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(encoders, "_installed", lambda *modules: "onnxruntime" not in modules)
    tier = BertTier(backend="onnx")
    decisions = await tier.decide(["Disk <NUM> is almost full"])
    assert decisions[0].reason == "bert_unavailable"
    assert "pip install onnxruntime" in tier.health()["error"]
    assert tier.health()["status"] == "degraded"
    await tier.aclose()
    # unset, the default falls back to torch where onnxruntime is missing
    assert BertTier().backend == "torch"


def test_the_backend_is_part_of_the_fingerprint() -> None:
    prints = {b: BertTier(backend=b).fingerprint for b in BACKENDS}
    assert len(set(prints.values())) == len(BACKENDS)
    assert BertTier(backend="onnx").fingerprint == prints["onnx"]  # stable


def test_an_export_is_written_once_and_atomically(tmp_path: Path, monkeypatch) -> None:
    runs: list[tuple[bool, str | None]] = []

    def fake_export(model_path: Path, quantize: bool, out: str, fp32: str | None = None) -> bytes:
        runs.append((quantize, fp32))
        Path(out).write_bytes(b"int8" if quantize else b"fp32")
        return b""

    monkeypatch.setattr(encoders, "_run_export", fake_export)
    monkeypatch.setattr(encoders, "_EXPORTED", {})
    model = encoders.default_model_path()
    int8 = encoders.exported_model(model, True, tmp_path)
    assert isinstance(int8, str) and Path(int8).read_bytes() == b"int8"
    fp32 = encoders.exported_model(model, False, tmp_path)
    assert isinstance(fp32, str) and Path(fp32).read_bytes() == b"fp32"
    assert runs == [(False, None), (True, fp32)]  # int8 is quantised from the fp32 file
    monkeypatch.setattr(encoders, "_EXPORTED", {})  # a new process finds the files
    assert encoders.exported_model(model, True, tmp_path) == int8
    assert len(runs) == 2
    assert sorted(p.name for p in (tmp_path / "encoders").iterdir()) == sorted(
        [Path(fp32).name, Path(int8).name])  # no partial files left behind


def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def failing(model_path: Path, quantize: bool, out: str, fp32: str | None = None) -> bytes:
        Path(out).write_bytes(b"half a mod")
        raise RuntimeError("exporting to ONNX failed: out of memory")

    monkeypatch.setattr(encoders, "_run_export", failing)
    monkeypatch.setattr(encoders, "_EXPORTED", {})
    with pytest.raises(RuntimeError, match="out of memory"):
        encoders.exported_model(encoders.default_model_path(), False, tmp_path)
    assert list((tmp_path / "encoders").iterdir()) == []


def test_a_read_only_cache_dir_keeps_the_export_in_memory(tmp_path: Path, monkeypatch) -> None:
    outs: list[str] = []

    def fake_export(model_path: Path, quantize: bool, out: str, fp32: str | None = None) -> bytes:
        outs.append(out)
        return b"onnx bytes"

    monkeypatch.setattr(encoders, "_run_export", fake_export)
    monkeypatch.setattr(encoders, "_EXPORTED", {})
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # nothing can be created under it, even by root
    model = encoders.default_model_path()
    assert encoders.exported_model(model, True, blocked / "cache") == b"onnx bytes"
    assert encoders.exported_model(model, True, blocked / "cache") == b"onnx bytes"
    assert outs == ["-"]  # exported once, to stdout


@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "torch"])
def test_every_backend_labels_lines_as_fp32_does(backend: str, onnx_cache: Path) -> None:
    reference = _loaded("torch", onnx_cache).embed(LINES)
    encoder = _loaded(backend, onnx_cache)
    assert encoder.backend == backend and encoder.dims == 384 and encoder.max_tokens == 256
    got = encoder.embed(LINES)
    assert got.dtype == np.float32 and got.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosine = (got * reference).sum(axis=1)
    # fp32 ONNX is the same computation; int8 rounds every weight (per tensor in torch)
    assert cosine.min() > {"onnx": 0.9999, "onnx-int8": 0.95, "torch-int8": 0.90}[backend]
    head = load_head(DEFAULT_HEAD_PATH)
    expected = head.probabilities(reference)
    probabilities = head.probabilities(got)
    assert (probabilities.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert np.abs(probabilities - expected).max() < (1e-4 if backend == "onnx" else 0.3)
    assert encoder.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_batches_of_mixed_lengths_match_one_line_at_a_time(onnx_cache: Path) -> None:
    encoder = _loaded("onnx", onnx_cache)
    batched = encoder.embed(LINES + ["x " * 400])  # padding, and truncation at 256 tokens
    alone = np.vstack([encoder.embed([line]) for line in LINES + ["x " * 400]])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


@pytest.mark.slow
def test_the_onnx_backend_never_imports_torch(onnx_cache: Path) -> None:
    _loaded("onnx-int8", onnx_cache)  # the files exist
    code = ("import asyncio, sys; from processors.bert import BertTier; "
            f"tier = BertTier(backend='onnx-int8', cache_dir={str(onnx_cache)!r}, threads=1); "
            "d = asyncio.run(tier.decide(['Failed password for root from <IP> port <NUM> ssh2'])); "
            "print(d[0].label, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["Security", "Alert", "False", "False"]
