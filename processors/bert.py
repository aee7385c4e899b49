"""The BERT tier: all-MiniLM-L6-v2 sentence embeddings plus a numpy softmax head.

Guarantees: importing this module does not import torch (the service starts in well under
two seconds); the model is loaded once — in the background as soon as the service starts
(``bert_preload``), before it answers (``bert_warmup``), or else by the first template that
needs it — even when many requests arrive together, and they all wait for that one load;
inference runs in one worker thread, never on the event loop; ``decide`` never raises. A
missing or unreadable model or head, an unknown backend or a backend whose runtime is not
installed leaves the tier ``degraded`` and its lines fall through with ``bert_unavailable``.
The encoder runtime (``bert_backend``: torch, torch-int8, onnx, onnx-int8) is
:mod:`processors.encoders`'; it is part of the tier's fingerprint, so cached labels of one
backend are never served as another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from monitoring import MetricsRegistry
from processors.bert_batcher import MicroBatcher
from processors.encoders import (  # noqa: F401  (MODEL_PACKAGE, default_model_path: re-exported)
    MODEL_ID,
    MODEL_PACKAGE,
    BackendError,
    TorchEncoder,
    default_model_path,
    model_identity,
    resolve_backend,
)
from processors.encoders import Encoder as AnyEncoder
from processors.encoders import load_encoder as load_backend
from processors.head import DEFAULT_HEAD_PATH, Head, HeadError, load_head
from processors.records import Decision
from processors.training import masker_sha256

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
# the torch fp32 encoder and its loader, as before the other backends (training, benchmarks)
Encoder = TorchEncoder


def load_encoder(path: str | Path | None = None, threads: int = 0) -> TorchEncoder:
    """Load the model from a local folder, offline, on CPU, with torch in fp32 (seconds)."""
    encoder = load_backend("torch", path, threads)
    assert isinstance(encoder, TorchEncoder)
    return encoder


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
        loader: Callable[[], AnyEncoder] | None = None,
        load_retry_seconds: float = 30.0,
        backend: str | None = None,
        cache_dir: str | Path | None = None,
        preload: bool = False,
    ) -> None:
        self.warmup, self.preload = warmup, preload
        self.registry = registry or MetricsRegistry()
        self.head_path = Path(head_path) if head_path else DEFAULT_HEAD_PATH
        self.model_path = model_path
        self._allowed = allowed_labels
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bert")
        self._batch_size, self._max_batch_tokens = batch_size, max_batch_tokens
        self._max_wait = max_wait_ms / 1000
        self._encoder: AnyEncoder | None = None
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
        # the runtime: unset = the measured default (torch where onnxruntime is missing); an
        # unknown name leaves the tier degraded, for good, like a bad head
        self.backend = str(backend)
        try:
            self.backend = resolve_backend(backend)
        except BackendError as exc:
            self._error = self._error or str(exc)
            log.error("bert tier unavailable: %s", exc)
        chosen = self.backend
        self._loader = loader or (lambda: load_backend(chosen, model_path, threads, cache_dir))
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
            preload=settings.bert_preload,
            backend=settings.bert_backend,
            cache_dir=settings.cache_dir,
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
        if self.backend != "torch":  # torch fp32 keeps the key it had before backends
            raw += f"|{self.backend}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    async def start(self) -> None:
        """Called by the lifespan. ``warmup``: load the model before returning. ``preload``:
        start loading it in the background and return at once; the first templates wait
        for that same load (never a second one)."""
        if self.warmup:
            await self._ensure_loaded()
        elif self.preload and self._batcher is None and self._error is None:
            self._begin_load()

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
            "backend": self.backend,
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
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()  # a load still running in the thread finishes unobserved
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
        await asyncio.shield(self._begin_load())
        return self._batcher

    def _begin_load(self) -> asyncio.Future[None]:
        """The one load in progress on this loop, started if there is none."""
        loading = self._loading
        if (loading is None or loading.cancelled()
                or loading.get_loop() is not asyncio.get_running_loop()):
            self._loading = loading = asyncio.ensure_future(self._load())
        return loading

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
        log.info("bert model loaded in %.1f s (%s)", self._load_seconds, self.backend)

    def _classify_batch(self, texts: list[str]) -> np.ndarray:
        """Runs in the worker thread: embed, then the head's probabilities."""
        started = time.perf_counter()
        assert self._encoder is not None and self.head is not None
        probabilities = self.head.probabilities(self._encoder.embed(texts))
        self.registry.observe("bert.batch", time.perf_counter() - started)
        self.registry.count("bert.batch_lines", len(texts))
        return probabilities
