"""Labelled synthetic log lines for training and evaluating the BERT head.

Phrasings live in ``data/synthetic_phrasings.yaml`` (40+ per label, worded the way web
servers, kernels, auth daemons, databases, schedulers, CRMs, billing systems and cloud
controllers word such events); here their ``{slots}`` get realistic random values.
Deterministic: the same seed gives the same lines. ``part`` splits each label's phrasings
80/20 so a held-out set contains wordings the head never saw.

    python -m processors.synthetic --out data.csv --n 3000 --part train
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import yaml

PHRASINGS_PATH = Path(__file__).parent / "data" / "synthetic_phrasings.yaml"
PARTS = ("all", "train", "test")
TEST_SHARE = 0.2

_USERS = ("alice", "bob", "jdoe", "m.garcia", "svc_backup", "deploy", "root", "admin", "priya",
          "chen.wei", "o.nowak", "kwame", "test", "oracle", "ubuntu", "guest", "hr_bot", "lena")
_WORDS = ("alpha", "orders", "legacy_export", "customer-portal", "reports", "get_user",
          "fetch_all", "q3-forecast", "billing", "analytics", "onboarding", "marketing",
          "inventory", "nightly", "green", "default", "eu-west", "payroll", "sandbox")
_FIELDS = ("customer_id", "email", "amount", "start_date", "region", "page_size", "currency",
           "timeout", "max_retries", "owner", "tax_id", "callback_url")
_SERVICES = ("auth-service", "payment-api", "inventory", "order-service", "search", "gateway",
             "notification-worker", "billing", "crm-sync", "report-generator", "nginx",
             "postgres", "redis", "kafka", "user-service", "scheduler")
_HOSTS = ("web-01", "web-02", "db-primary", "db-replica-2", "cache-03", "node17",
          "ip-10-0-3-21.ec2.internal", "api.example.com", "k8s-worker-5", "mq-1.prod",
          "storage-02", "lb-east")
_PATHS = ("/api/v1/orders", "/api/v2/users/{n}", "/login", "/v1/invoices/{n}/pay", "/health",
          "/static/js/app.{h}.js", "/graphql", "/api/customers/{n}/notes", "/var/log/app.log",
          "/data/exports/report_{n}.csv", "/images/avatar/{n}.png", "/search", "/admin/users")
_AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.4.0", "python-requests/2.31",
           "Go-http-client/1.1", "okhttp/4.12.0", "Googlebot/2.1")
_STATUS = (200, 200, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 404, 409, 422, 429,
           500, 502, 503, 504)
_REASONS = ("OK", "Created", "Not Found", "Bad Request", "Unauthorized", "Forbidden",
            "Internal Server Error", "Service Unavailable", "Too Many Requests", "No Content")

SOURCES: dict[str, tuple[str, ...]] = {
    "HTTP Status": ("ThirdPartyAPI", "ModernCRM", "nginx", "api-gateway", "BillingSystem"),
    "Critical Error": ("kernel", "postgres", "ModernHR", "BillingSystem", "k8s-controller"),
    "Error": ("ModernCRM", "AnalyticsEngine", "BillingSystem", "ModernHR", "worker"),
    "Security Alert": ("sshd", "ModernHR", "waf", "ModernCRM", "auth-service"),
    "Resource Usage": ("AnalyticsEngine", "node-exporter", "k8s-controller", "BillingSystem"),
    "System Notification": ("ModernHR", "scheduler", "systemd", "AnalyticsEngine", "k8s"),
    "User Action": ("ModernCRM", "ModernHR", "BillingSystem", "sshd", "portal"),
    "Workflow Error": ("ModernCRM", "BillingSystem", "ModernHR", "workflow-engine"),
    "Deprecation Warning": ("ThirdPartyAPI", "ModernCRM", "AnalyticsEngine", "k8s"),
}


def _slots(rng: random.Random) -> dict[str, Callable[[], object]]:
    """Slot name -> a function making one realistic value."""

    def date() -> datetime:
        return datetime(2025, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))

    def size() -> str:
        return f"{rng.choice((rng.randrange(1, 1024), round(rng.uniform(0.1, 64), 1)))}" \
               f"{rng.choice(('MB', 'GB', 'MiB', 'GiB', 'KB'))}"

    def path() -> str:
        return rng.choice(_PATHS).format(n=rng.randrange(1, 99999), h=rng.getrandbits(32))

    return {
        "ip": lambda: ".".join(str(rng.randrange(1, 255)) for _ in range(4)),
        "user": lambda: rng.choice((*_USERS, f"User{rng.randrange(1, 999)}")),
        "email": lambda: f"{rng.choice(_USERS).replace('.', '')}@{rng.choice(_WORDS)}.com",
        "num": lambda: rng.randrange(1, 99999),
        "pid": lambda: rng.randrange(100, 65000),
        "port": lambda: rng.choice((22, 80, 443, 5432, 6379, 8080, rng.randrange(1024, 65535))),
        "ms": lambda: rng.randrange(1, 30000),
        "secs": lambda: f"{rng.uniform(0.001, 9):.4f}",
        "pct": lambda: rng.randrange(70, 100),
        "load": lambda: f"{rng.uniform(0.5, 64):.2f}",
        "bytes": lambda: rng.randrange(0, 2_000_000),
        "size": size,
        "method": lambda: rng.choice(("GET", "GET", "POST", "PUT", "DELETE", "PATCH")),
        "status": lambda: rng.choice(_STATUS),
        "reason_phrase": lambda: rng.choice(_REASONS),
        "path": path,
        "url": lambda: f"https://{rng.choice(_HOSTS)}{path()}",
        "agent": lambda: rng.choice(_AGENTS),
        "host": lambda: rng.choice(_HOSTS),
        "service": lambda: rng.choice(_SERVICES),
        "db": lambda: rng.choice(("orders_db", "crm", "billing", "analytics", "hr_prod")),
        "table": lambda: rng.choice(("orders", "users", "invoices", "sessions", "payments")),
        "queue": lambda: rng.choice(("email-outbound", "billing.events", "tier2", "etl-jobs")),
        "job": lambda: rng.choice(("nightly-etl", "invoice-run", "cleanup_tmp", "sync-crm",
                                   "weekly-report", "reindex")),
        "device": lambda: rng.choice(("sda", "sdb1", "nvme0n1", "md0", "eth0", "vol-data")),
        "field": lambda: rng.choice(_FIELDS),
        "word": lambda: rng.choice(_WORDS),
        "role": lambda: rng.choice(("admin", "editor", "viewer", "billing_manager", "support")),
        "plan": lambda: rng.choice(("Basic", "Pro", "Enterprise", "Team")),
        "country": lambda: rng.choice(("RU", "BR", "NG", "CN", "KP", "VN", "RO")),
        "region": lambda: rng.choice(("us-east-1", "eu-west-1", "ap-south-1")),
        "instance": lambda: f"i-0{rng.getrandbits(56):014x}",
        "uuid": lambda: uuid.UUID(int=rng.getrandbits(128), version=4),
        "hex": lambda: f"{rng.getrandbits(64):016x}",
        "version": lambda: f"{rng.randrange(1, 12)}.{rng.randrange(0, 30)}.{rng.randrange(0, 9)}",
        "date": lambda: date().isoformat(sep=" "),
        "clf_date": lambda: date().strftime("%d/%b/%Y:%H:%M:%S +0000"),
    }


def load_phrasings(path: Path = PHRASINGS_PATH) -> dict[str, list[str]]:
    with path.open(encoding="utf-8") as f:
        return {str(label): [str(p) for p in items] for label, items in yaml.safe_load(f).items()}


def select_part(phrasings: list[str], part: str, label: str) -> list[str]:
    """The ``part`` of one label's phrasings; the 80/20 split is fixed, not seed-dependent."""
    if part == "all":
        return phrasings
    order = random.Random(f"split:{label}").sample(range(len(phrasings)), len(phrasings))
    cut = max(1, round(len(phrasings) * TEST_SHARE))
    chosen = set(order[:cut] if part == "test" else order[cut:])
    return [p for i, p in enumerate(phrasings) if i in chosen]


def generate(n: int, seed: int = 0, part: str = "all") -> Iterator[tuple[str, str, str]]:
    """``n`` (source, log_message, target_label) rows, labels balanced and interleaved."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    rng = random.Random(seed)
    slots = _slots(rng)
    table = {label: select_part(items, part, label) for label, items in load_phrasings().items()}
    labels = sorted(table)
    formatter = string.Formatter()
    for i in range(n):
        label = labels[i % len(labels)]
        phrasing = rng.choice(table[label])
        # each occurrence of a slot gets its own value
        line = "".join(
            literal + (str(slots[name]()) if name else "")
            for literal, name, _, _ in formatter.parse(phrasing)
        )
        yield rng.choice(SOURCES[label]), line, label


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processors.synthetic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="CSV file to write (default: stdout)")
    parser.add_argument("--n", type=int, default=3000, help="number of lines (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", choices=PARTS, default="all",
                        help="phrasings to draw from: train (80%%), test (20%%) or all")
    args = parser.parse_args(argv)
    out = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(("source", "log_message", "target_label"))
        writer.writerows(generate(args.n, args.seed, args.part))
    finally:
        if args.out:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
