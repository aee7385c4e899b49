"""The types that flow through the pipeline: a record in, a verdict out, a tier's decision,
and the outcome the cache keeps. Imports no other module of the project, so any may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

UNCLASSIFIED = "Unclassified"


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One line to classify and the name of the system that wrote it."""

    source: str
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the service says about one line.

    ``tier`` is ``regex`` | ``bert`` | ``llm`` | ``none``; ``reason`` says why a line
    ended ``Unclassified`` or was handled specially (``truncated``, ``low_confidence``…).
    """

    label: str
    confidence: float | None
    tier: str
    cached: bool
    template: str
    reason: str | None = None
    truncated: bool = False  # classified by its first LOGCLASS_MAX_LINE_CHARS characters

    def as_dict(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict deep-copies field by field, and the warm HTTP path
        # spent 30% of its time there (benchmarks/e2e profile).
        return {
            "label": self.label,
            "confidence": self.confidence,
            "tier": self.tier,
            "cached": self.cached,
            "template": self.template,
            "reason": self.reason,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """A model tier's answer for one template; ``label=None`` passes it to the next tier.

    ``cacheable=False`` marks answers that came from a fault (LLM down…) and must not be
    served again from the cache.
    """

    label: str | None
    confidence: float | None = None
    reason: str | None = None
    cacheable: bool = True


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the model tiers concluded for one template; this is what the cache stores."""

    label: str
    confidence: float | None
    tier: str
    reason: str | None
    cacheable: bool = True


@runtime_checkable
class Tier(Protocol):
    """A model tier: one async method over a batch of templates, in order, never raising.

    ``fingerprint`` changes whenever anything that could change an answer changes (weights,
    model, prompt), so cached answers are keyed by it.
    """

    name: str

    @property
    def fingerprint(self) -> str: ...

    async def decide(self, templates: Sequence[str]) -> list[Decision]: ...

    def health(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...
