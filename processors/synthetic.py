"""Labelled synthetic log lines for training and evaluating the BERT head.

Phrasings live in ``data/synthetic_phrasings.yaml`` (60+ per label, 120+ for System
Notification, worded the way web servers, proxies, kernels, auth daemons, databases, brokers,
orchestrators, schedulers, CRMs and billing systems word such events, and labelled by
``../shared/TAXONOMY-GUIDE.md``); here their ``{slots}`` get realistic random values.

A share of the lines (:data:`FORMAT_SHARES`) is then wrapped the way real logs carry a
message: a level prefix, an ISO timestamp, a syslog header, a Java/Python logger prefix, a
``key=value`` tail or logfmt, or a JSON payload. The wrapper's level word follows the label
mostly but not always (:data:`LEVELS`: an INFO deprecation, a FATAL ordinary error), because
severity is evidence, not the answer; the wrapper never changes the label.

Deterministic: the same seed gives the same lines. ``part`` splits each label's phrasings
80/20 so a held-out set contains wordings the head never saw.

    python -m processors.synthetic --out data.csv --n 3000 --part train
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import string
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
_UNITS = ("nginx.service", "postgresql@16-main.service", "docker.service", "logrotate.timer",
          "apt-daily.service", "containerd.service", "kubelet.service", "redis-server.service",
          "certbot.timer", "fstrim.service", "node_exporter.service", "cron.service",
          "systemd-tmpfiles-clean.service", "backup-nightly.service", "billing-worker.service")
_NAMESPACES = ("default", "prod", "staging", "kube-system", "monitoring", "payments",
               "ingress-nginx", "data")
_NODES = ("ip-10-0-3-21", "worker-3", "gke-prod-pool-1-8f2c", "node-a7", "k8s-worker-5",
          "aks-nodepool1-3141", "minion-12")
_TOPICS = ("orders", "payments.events", "audit-log", "user-signups", "metrics", "invoices")
_CLASSES = ("com.example.billing.InvoiceService", "org.example.orders.OrderRepository",
            "io.acme.platform.sync.CrmSyncJob", "net.shop.checkout.CartController",
            "com.example.hr.PayrollExporter", "org.example.auth.TokenStore")
_NPM = ("request@2.88.2", "uuid@3.4.0", "har-validator@5.1.5", "querystring@0.2.0",
        "inflight@1.0.6", "rimraf@3.0.2", "glob@7.2.3", "core-js@2.6.12")
_PYFUNCS = ("datetime.utcnow()", "asyncio.get_event_loop()", "imp.load_module()",
            "distutils.version.LooseVersion", "ssl.wrap_socket()", "locale.getdefaultlocale()",
            "pkgutil.find_loader()", "typing.ByteString")
_K8S_APIS = ("batch/v1beta1 CronJob", "batch/v1 CronJob", "policy/v1beta1 PodSecurityPolicy",
             "policy/v1 PodDisruptionBudget", "autoscaling/v2beta2 HorizontalPodAutoscaler",
             "autoscaling/v2 HorizontalPodAutoscaler", "networking.k8s.io/v1beta1 Ingress",
             "flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema")
_IMAGES = ("nginx:1.25.3", "postgres:16.2", "redis:7.2-alpine", "busybox:1.36",
           "registry.example.com/payments/api:2.14.0", "ghcr.io/acme/worker:sha-3f9a1c2",
           "quay.io/prometheus/node-exporter:v1.7.0")
_APPS = ("com.example.fitness", "com.acme.mail", "org.sample.notes", "com.example.wallet",
         "com.demo.music", "net.example.maps", "com.example.health.steps", "io.acme.chat")
_EXES = ("firefox.exe", "outlook.exe", "teams.exe", "git.exe", "python.exe", "slack.exe",
         "updater.exe", "dropbox.exe")
_IFACES = ("wlan0", "en0", "en1", "eth1", "rmnet_data0", "bond0", "ib0", "wlp2s0")
_DAEMONS = ("locationd", "bluetoothd", "powerd", "syncagentd", "backupd", "cloudd", "wifid",
            "mediaserverd", "softwareupdated", "netbiosd")

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

    def pod() -> str:  # a Deployment's pod: <name>-<replica set hash>-<5 random characters>
        suffix = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        return f"{rng.choice(_SERVICES)}-{rng.getrandbits(36):09x}-{suffix}"

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
        "small": lambda: rng.randrange(1, 9),
        "exitcode": lambda: rng.choice((1, 1, 2, 127, 137, 139, 143, 255)),
        "mb": lambda: rng.choice((64, 128, 256, 512, 1024, 2048, 4096, rng.randrange(1, 16384))),
        "gb": lambda: rng.randrange(1, 2000),
        "unit": lambda: rng.choice(_UNITS),
        "namespace": lambda: rng.choice(_NAMESPACES),
        "node": lambda: rng.choice(_NODES),
        "pod": pod,
        "topic": lambda: rng.choice(_TOPICS),
        "partition": lambda: rng.randrange(0, 32),
        "lsn": lambda: f"{rng.randrange(0, 64):X}/{rng.getrandbits(32):08X}",
        "klass": lambda: rng.choice(_CLASSES),
        "pkg": lambda: rng.choice(_NPM),
        "pyfunc": lambda: rng.choice(_PYFUNCS),
        "k8s_api": lambda: rng.choice(_K8S_APIS),
        "image": lambda: rng.choice(_IMAGES),
        "app": lambda: rng.choice(_APPS),
        "exe": lambda: rng.choice(_EXES),
        "iface": lambda: rng.choice(_IFACES),
        "daemon": lambda: rng.choice(_DAEMONS),
    }


# --- Format wrapper: how real logs carry a message --------------------------------------

# Share of generated lines per format; "bare" lines stay as the phrasing made them.
FORMAT_SHARES: dict[str, float] = {
    "bare": 0.40,       # no timestamp, no level: the message alone
    "level": 0.12,      # "INFO msg", "[WARN] msg", "ERROR: msg", "WARNING:billing.sync:msg"
    "timestamp": 0.10,  # "2025-03-01T10:00:00.123Z INFO msg", Python logging, klog
    "syslog": 0.10,     # "Mar  1 10:00:00 web-01 billing[4242]: msg", RFC 5424
    "logger": 0.10,     # "org.example.billing.SyncService: msg", "[main] INFO c.e.o.Worker - msg"
    "kv": 0.08,         # "msg request_id=… user_id=…", logfmt "time=… level=info msg=\"…\""
    "json": 0.10,       # {"level":"info","ts":…,"logger":"…","msg":"…",…}
}

# The wrapper's level per label: mostly what such a line is logged at, sometimes contrary
# (the guide: severity words are evidence, not the answer). Weights are percentages.
LEVELS: dict[str, tuple[tuple[str, int], ...]] = {
    "HTTP Status": (("INFO", 80), ("DEBUG", 5), ("WARN", 8), ("ERROR", 7)),
    "Critical Error": (("CRITICAL", 30), ("FATAL", 25), ("ERROR", 30), ("WARN", 10), ("INFO", 5)),
    "Error": (("ERROR", 65), ("WARN", 17), ("FATAL", 8), ("CRITICAL", 4), ("INFO", 6)),
    "Security Alert": (("WARN", 40), ("ERROR", 20), ("INFO", 25), ("NOTICE", 10),
                       ("CRITICAL", 5)),
    "Resource Usage": (("WARN", 50), ("INFO", 30), ("ERROR", 12), ("CRITICAL", 8)),
    "System Notification": (("INFO", 70), ("DEBUG", 10), ("NOTICE", 8), ("WARN", 8),
                            ("ERROR", 4)),
    "User Action": (("INFO", 80), ("NOTICE", 8), ("DEBUG", 5), ("WARN", 7)),
    "Workflow Error": (("ERROR", 60), ("WARN", 25), ("INFO", 10), ("FATAL", 5)),
    "Deprecation Warning": (("WARN", 70), ("INFO", 22), ("ERROR", 5), ("DEBUG", 3)),
}
_DEFAULT_LEVELS = (("INFO", 60), ("WARN", 20), ("ERROR", 20))

# How each level is spelt: upper-case forms, lower-case forms (logfmt, JSON), klog letter.
_UPPER = {"DEBUG": ("DEBUG",), "INFO": ("INFO",), "NOTICE": ("NOTICE",),
          "WARN": ("WARN", "WARNING"), "ERROR": ("ERROR",), "CRITICAL": ("CRITICAL", "CRIT"),
          "FATAL": ("FATAL",)}
_KLOG = {"DEBUG": "I", "INFO": "I", "NOTICE": "I", "WARN": "W", "ERROR": "E", "CRITICAL": "E",
         "FATAL": "F"}

# Wrapper vocabulary, the same for every label: it carries no hint of the label.
_LOGGER_PACKAGES = ("com.example.billing", "org.example.orders", "io.acme.platform",
                    "net.shop.checkout", "com.example.hr.core", "org.example.integration")
_LOGGER_CLASSES = ("SyncService", "OrderService", "InvoiceController", "Scheduler",
                   "ConnectionManager", "RequestHandler", "Worker", "Main", "EventListener",
                   "ApiClient", "JobRunner", "Bootstrap")
_PY_LOGGERS = ("billing.sync", "app.worker", "orders.api", "root", "crm.tasks", "ingest",
               "uvicorn.error", "celery.worker", "reports.jobs")
_THREADS = ("main", "http-nio-8080-exec-3", "pool-2-thread-1", "scheduling-1",
            "kafka-consumer-0", "ForkJoinPool.commonPool-worker-5", "worker-7",
            "grpc-default-executor-2")
_PROGRAMS = ("app", "api", "worker", "billing", "crm", "gateway", "scheduler", "agent",
             "backend", "ingest", "daemon", "svc")
_SYSLOG_HOSTS = ("web-01", "web-02", "db-2", "app-3", "node17", "k8s-worker-5",
                 "ip-10-0-3-21", "edge-lb-1", "batch-04")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_GO_FILES = ("server.go", "controller.go", "main.go", "handler.go", "sync.go", "manager.go")
# A leading lower-case "prog:" or "prog[pid]:" tag: the phrasing already names its program.
_PROG_TAG = re.compile(r"^[a-z][\w.\-/]*(?:\[\d+\])?: ")


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _wrap(line: str, label: str, rng: random.Random) -> tuple[str, str]:
    """(format name, ``line`` as some real log would carry it); the label is unchanged."""
    fmt = rng.choices(list(FORMAT_SHARES), weights=list(FORMAT_SHARES.values()))[0]
    if fmt == "bare":
        return fmt, line
    level = _weighted(rng, LEVELS.get(label, _DEFAULT_LEVELS))
    upper = rng.choice(_UPPER[level])
    lower = upper.lower()
    when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(365 * 86400), microseconds=rng.randrange(1_000_000))
    millis = f"{when.microsecond // 1000:03d}"
    iso = rng.choice((f"{when:%Y-%m-%dT%H:%M:%S}.{millis}Z", f"{when:%Y-%m-%d %H:%M:%S},{millis}",
                      f"{when:%Y-%m-%dT%H:%M:%S}+00:00", f"{when:%Y-%m-%d %H:%M:%S}.{millis}"))
    package, cls = rng.choice(_LOGGER_PACKAGES), rng.choice(_LOGGER_CLASSES)
    logger = f"{package}.{cls}"
    short = ".".join(part[0] for part in package.split(".")) + f".{cls}"
    pid = rng.randrange(100, 65000)
    if fmt == "level":
        return fmt, rng.choice((f"{upper} {line}", f"[{upper}] {line}", f"{upper}: {line}",
                                f"{upper}:{rng.choice(_PY_LOGGERS)}:{line}"))
    if fmt == "timestamp":
        pick = rng.randrange(4)
        if pick == 0:
            return fmt, f"{iso} {upper} {line}"
        if pick == 1:
            return fmt, f"[{iso}] [{upper}] {line}"
        if pick == 2:  # Python logging's usual format
            return fmt, (f"{when:%Y-%m-%d %H:%M:%S},{millis} - {rng.choice(_PY_LOGGERS)} - "
                         f"{upper} - {line}")
        return fmt, (f"{_KLOG[level]}{when:%m%d %H:%M:%S}.{when.microsecond:06d} {pid:>7} "
                     f"{rng.choice(_GO_FILES)}:{rng.randrange(20, 900)}] {line}")
    if fmt == "syslog":
        host = rng.choice(_SYSLOG_HOSTS)
        if rng.random() < 0.2:  # RFC 5424
            return fmt, f"<{rng.choice((14, 30, 134, 163))}>1 {iso.replace(' ', 'T')} {host} " \
                        f"{rng.choice(_PROGRAMS)} {pid} - - {line}"
        head = f"{_MONTHS[when.month - 1]} {when.day:>2} {when:%H:%M:%S} {host}"
        if _PROG_TAG.match(line):
            return fmt, f"{head} {line}"
        return fmt, f"{head} {rng.choice(_PROGRAMS)}[{pid}]: {line}"
    if fmt == "logger":
        thread = rng.choice(_THREADS)
        pick = rng.randrange(4)
        if pick == 0:
            return fmt, f"{logger}: {line}"
        if pick == 1:
            return fmt, f"[{thread}] {upper} {short} - {line}"
        if pick == 2:  # Spring Boot's console format
            return fmt, f"{iso} {upper:>5} {pid} --- [{thread[:15]:>15}] {short:<40} : {line}"
        return fmt, f"{iso} {upper} [{thread}] {logger} - {line}"
    if fmt == "kv":
        extras = {"request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "user_id": str(rng.randrange(1, 99999)),
                  "trace_id": f"{rng.getrandbits(64):016x}",
                  "tenant": rng.choice(("acme", "globex", "initech", "umbrella")),
                  "env": rng.choice(("prod", "staging")),
                  "region": rng.choice(("us-east-1", "eu-west-1", "ap-south-1"))}
        keys = rng.sample(list(extras), rng.randrange(1, 4))
        tail = " ".join(f"{k}={extras[k]}" for k in keys)
        if rng.random() < 0.5:
            return fmt, f"{line} {tail}"
        return fmt, f"time={iso.replace(' ', 'T')} level={lower} msg={json.dumps(line)} {tail}"
    # json
    payload: dict[str, object]
    pick = rng.randrange(3)
    if pick == 0:  # zap / structlog style
        payload = {"level": lower, "ts": round(when.timestamp(), 3),
                   "logger": rng.choice((logger, *_PY_LOGGERS)), "msg": line}
    elif pick == 1:  # Elastic Common Schema
        payload = {"@timestamp": f"{when:%Y-%m-%dT%H:%M:%S}.{millis}Z", "log.level": lower,
                   "message": line, "service.name": rng.choice(_PROGRAMS)}
    else:  # cloud logging style
        payload = {"time": f"{when:%Y-%m-%dT%H:%M:%S}.{millis}Z", "severity": upper,
                   "message": line, "thread": rng.choice(_THREADS)}
    if rng.random() < 0.5:
        payload["request_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return fmt, json.dumps(payload, separators=(",", ":"))


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
    wrap_rng = random.Random(f"format:{seed}")  # its own stream: wrapping leaves the lines alone
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
        _, line = _wrap(line, label, wrap_rng)
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
