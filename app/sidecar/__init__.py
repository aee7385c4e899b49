"""Sidecar mode: take shipper batches, classify each event, forward the enriched batch.

``events`` and ``otlp`` parse and enrich the framings shippers send, ``render`` writes them
back out, ``forward`` delivers them downstream, ``delivery`` ties these to HTTP answers.
"""

from app.sidecar.events import EventFields, MalformedBatch, parse_events
from app.sidecar.forward import Forwarder, ForwardRejected, ForwardUnavailable
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
