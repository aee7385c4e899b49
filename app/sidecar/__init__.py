"""Sidecar mode: take shipper batches, classify each event, forward the enriched batch.

``framing`` decodes shipper bodies into events and ``events`` reads and enriches them;
``otlp_codec`` and ``otlp`` do the same for OTLP/HTTP. ``render`` writes batches back out,
``forward`` delivers them downstream (``refusals`` reads the target's answers), and
``delivery`` ties these to HTTP answers.
"""

from app.sidecar.events import EventFields
from app.sidecar.forward import Forwarder, ForwardRejected, ForwardUnavailable
from app.sidecar.framing import MalformedBatch, parse_events
from app.sidecar.render import Enriched

__all__ = [
    "EventFields",
    "Enriched",
    "Forwarder",
    "ForwardRejected",
    "ForwardUnavailable",
    "MalformedBatch",
    "parse_events",
]
