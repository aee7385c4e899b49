"""The BERT tier's classifier head: softmax regression over sentence embeddings, in numpy.

Stored as two files side by side: ``NAME.npz`` (``weights`` [labels x dims], ``bias``
[labels], ``labels`` as unicode strings) read with ``allow_pickle=False`` so a model file
can never run code, and ``NAME.json`` with the metadata (embedding model, dimensions, label
set, threshold, training-data hash, date, cross-validated metrics). Serving needs numpy only.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_HEAD_PATH = Path(__file__).parent / "data" / "bert_head.npz"
HEAD_FORMAT = 1


class HeadError(ValueError):
    """The head files cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Head:
    """Weights ``[n_labels, dims]``, bias ``[n_labels]``, label names, and metadata."""

    weights: np.ndarray
    bias: np.ndarray
    labels: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.weights.ndim != 2 or self.bias.shape != (self.weights.shape[0],):
            raise HeadError(
                f"head shapes disagree: weights {self.weights.shape}, bias {self.bias.shape}"
            )
        if len(self.labels) != self.weights.shape[0] or len(set(self.labels)) != len(self.labels):
            raise HeadError(
                f"head needs {self.weights.shape[0]} distinct labels, got {self.labels}"
            )

    @property
    def dims(self) -> int:
        return int(self.weights.shape[1])

    @property
    def digest(self) -> str:
        """A hash of everything that changes an answer: weights, bias, label order."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.weights, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(self.bias, dtype=np.float32).tobytes())
        h.update("\x1f".join(self.labels).encode("utf-8"))
        return h.hexdigest()[:16]

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Softmax over ``embeddings @ weights.T + bias``; rows sum to 1."""
        logits = embeddings @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def validate(self, allowed_labels: Iterable[str] | None = None, dims: int | None = None,
                 where: str = "head") -> None:
        """Refuse a head the deployment cannot serve, with a message an operator can act on."""
        if dims is not None and dims != self.dims:
            raise HeadError(
                f"{where}: head expects {self.dims}-dimensional embeddings but the model "
                f"produces {dims}; retrain it with `logclass train` for this model"
            )
        if allowed_labels is not None:
            allowed = set(allowed_labels)
            unknown = [label for label in self.labels if label not in allowed]
            if unknown:
                raise HeadError(
                    f"{where}: head label(s) {unknown} are not in the taxonomy "
                    f"{sorted(allowed)}; retrain the head or add the labels"
                )


def metadata_path(npz_path: Path) -> Path:
    return npz_path.with_suffix(".json")


def load_head(path: str | Path) -> Head:
    """Read ``path`` (.npz) and its JSON metadata; raises :class:`HeadError`, never unpickles.

    Refuses non-finite weights or bias: such a head cannot give a meaningful confidence.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise HeadError(f"{path}: not an .npz archive of weights, bias and labels")
        with data:
            missing = {"weights", "bias", "labels"} - set(data.files)
            if missing:
                raise HeadError(f"{path}: missing array(s) {sorted(missing)}")
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            labels = tuple(str(label) for label in data["labels"].tolist())
    except HeadError:
        raise
    except OSError as exc:
        raise HeadError(f"{path}: cannot read head file ({exc})") from exc
    except (ValueError, zipfile.BadZipFile) as exc:
        if "pickle" in str(exc):
            raise HeadError(
                f"{path}: refused, the file holds pickled data; heads must be plain .npz "
                "arrays (pickles can run code when loaded)"
            ) from exc
        raise HeadError(f"{path}: not a readable .npz head ({exc})") from exc
    for name, array in (("weights", weights), ("bias", bias)):
        if not np.isfinite(array).all():  # NaN would answer labels[0] with NaN confidence
            raise HeadError(
                f"{path}: {name} hold {int((~np.isfinite(array)).sum())} value(s) that are "
                "not finite (NaN or infinity); retrain the head with `logclass train`"
            )
    metadata = _read_metadata(metadata_path(path))
    if metadata.get("labels") not in (None, list(labels)):
        raise HeadError(f"{metadata_path(path)}: label list differs from the one in {path.name}")
    return Head(weights, bias, labels, metadata)


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HeadError(f"{path}: metadata file missing (it sits beside the .npz)") from None
    except (OSError, ValueError) as exc:
        raise HeadError(f"{path}: unreadable head metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise HeadError(f"{path}: head metadata must be a JSON object")
    if data.get("format", HEAD_FORMAT) != HEAD_FORMAT:
        raise HeadError(f"{path}: head format {data.get('format')!r}, expected {HEAD_FORMAT}")
    return data


def save_head(head: Head, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``path`` (.npz) and the JSON beside it; returns the .npz path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**head.metadata, **(metadata or {})}
    meta.update(format=HEAD_FORMAT, labels=list(head.labels), dimensions=head.dims,
                digest=head.digest)
    with path.open("wb") as f:
        np.savez(f, weights=head.weights.astype(np.float32), bias=head.bias.astype(np.float32),
                 labels=np.array(head.labels, dtype=str))
    metadata_path(path).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
    return path
