"""Regenerate docs/dashboard.png: the dashboard of a healthy service after real traffic.

``logclass serve`` runs in a process of its own on a free loopback port, with the built-in
model loaded at start-up, no LLM server (that tier shows ``disabled``), a fresh cache folder
and an admin token made up for the run. While headless Chromium shows ``/dashboard``, the
lines of the Loghub 2k samples (the ``Content`` column of ``<System>_2k.log_structured.csv``,
each system's name as the source) are sent in a fixed, seeded order, then keep flowing
slowly while the most seen template the service left ``Unclassified`` is corrected in the
Templates panel, as an operator would, to the label ``datasets/loghub_labels`` gives it,
and Try it classifies three lines. The script refuses to save a picture of a degraded
service, or one that shows the temporary folder.

    .venv/bin/python docs/screenshot.py [--loghub DIR] [--out docs/dashboard.png]

Needs ``/usr/bin/chromium`` and the ``playwright`` package (no ``playwright install``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processors.corpus import DEFAULT_LOGHUB_DIR, loghub_lines, loghub_systems  # noqa: E402
from processors.templates import mask  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SEED = 18
TRAFFIC_SECONDS = 25.0
TRY_IT = ("OpenSSH", [
    "Failed password for root from 183.62.140.253 port 39416 ssh2",
    "Received disconnect from 187.141.143.180: 11: Bye Bye [preauth]",
    "pam_unix(sshd:session): session opened for user fztu by (uid=0)",
])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def service(cache_dir: Path, admin_token: str) -> Iterator[str]:
    """``logclass serve`` with only the settings named here (none from the caller's shell)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCLASS_")}
    env |= {
        "LOGCLASS_HOST": "127.0.0.1", "LOGCLASS_PORT": str(port),
        "LOGCLASS_CACHE_DIR": str(cache_dir), "LOGCLASS_ADMIN_TOKEN": admin_token,
        "LOGCLASS_BERT_WARMUP": "true", "LOGCLASS_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=REPO, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(f"logclass serve exited with {process.returncode}")
            try:
                health = httpx.get(f"{base_url}/api/v1/health", timeout=2).json()
                if health["components"].get("bert", {}).get("loaded"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the service did not load its model within 180 s")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def loghub_traffic(loghub: Path) -> list[tuple[str, str]]:
    """Every line of every sample as ``(system, Content)``, shuffled with a fixed seed."""
    lines = []
    for path in sorted(loghub.glob("*_2k.log_structured.csv")):
        system = path.name.split("_")[0]
        with path.open(newline="", encoding="utf-8") as f:
            lines += [(system, row["Content"]) for row in csv.DictReader(f)]
    if not lines:
        raise SystemExit(f"no *_2k.log_structured.csv in {loghub} (pass --loghub DIR)")
    random.Random(SEED).shuffle(lines)
    return lines


def send(base_url: str, lines: list[tuple[str, str]], seconds: float) -> None:
    """``lines`` in batches of varied size, spread over about ``seconds``."""
    rng = random.Random(SEED)
    batches, i = [], 0
    while i < len(lines):
        size = rng.randint(60, 400)
        batches.append(lines[i:i + size])
        i += size
    pause = seconds / len(batches)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for batch in batches:
            logs = [{"source": s, "log_message": m} for s, m in batch]
            client.post("/api/v1/classify", json={"logs": logs}).raise_for_status()
            time.sleep(pause)


@contextmanager
def trickle(base_url: str, lines: list[tuple[str, str]]) -> Iterator[None]:
    """Keep ``lines`` flowing slowly (about 200 a second) in a thread, so the picture shows
    a live service rather than one that has just gone quiet."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for start in itertools.cycle(range(0, len(lines), 40)):
                logs = [{"source": s, "log_message": m} for s, m in lines[start:start + 40]]
                client.post("/api/v1/classify", json={"logs": logs}).raise_for_status()
                if stop.wait(0.2):
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def template_to_correct(base_url: str, loghub: Path) -> tuple[dict, str]:
    """The most seen ``Unclassified`` template whose Loghub label is known, and that label."""
    known = {}
    for system in loghub_systems():
        for line in loghub_lines(system, loghub):
            known.setdefault(mask(line.message), line.label)
    listed = httpx.get(f"{base_url}/api/v1/templates",
                       params={"label": "Unclassified", "limit": 50}).json()["templates"]
    for template in listed:
        if template["template"] in known:
            return template, known[template["template"]]
    raise SystemExit("no Unclassified template with a known label to correct")


def shoot(base_url: str, loghub: Path, admin_token: str, out: Path, hidden: str) -> None:
    from playwright.sync_api import sync_playwright

    traffic = loghub_traffic(loghub)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base_url}/dashboard?refresh=1", wait_until="load")
        send(base_url, traffic, TRAFFIC_SECONDS)
        with trickle(base_url, traffic):
            operate(page, base_url, loghub, admin_token, traffic)
            health = httpx.get(f"{base_url}/api/v1/health").json()
            degraded = [n for n, c in health["components"].items() if c["status"] == "degraded"]
            if health["status"] != "ok" or degraded:
                raise SystemExit(f"refusing to save a degraded service: {degraded}")
            if hidden in page.locator("body").inner_text():
                raise SystemExit(f"refusing to save a picture that shows {hidden}")
            page.screenshot(path=str(out), full_page=True)
        browser.close()


def operate(page: Any, base_url: str, loghub: Path, admin_token: str,
            traffic: list[tuple[str, str]]) -> None:
    """What an operator does in the page: correct a template, then try three lines."""
    template, label = template_to_correct(base_url, loghub)
    exactly = re.compile(f"^{re.escape(template['template'])}$")
    cell = page.locator("td.template", has_text=exactly)
    row = page.locator("#templates-table tbody tr").filter(has=cell)
    row.wait_for()
    page.locator("#admin-token").fill(admin_token)
    row.locator("select").select_option(label)
    row.locator("button[data-action=correct]").click()
    page.locator("#templates-status[data-state=ok]").wait_for()
    again = [(s, m) for s, m in traffic if mask(m) == template["template"]]
    send(base_url, again[:40], 2.0)  # the template's next lines: tier "override"
    page.locator("#templates-table tr[data-tier=override]").filter(has=cell).wait_for()
    page.locator("#admin-token").fill("")  # the picture shows an empty field

    source, lines = TRY_IT
    page.locator("#try-source").fill(source)
    page.locator("#try-lines").fill("\n".join(lines))
    page.locator("#try-submit").click()
    page.locator("#try-results tbody tr").nth(len(lines) - 1).wait_for()
    time.sleep(2.5)  # two more polls, so every panel shows the last traffic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB_DIR)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    args = parser.parse_args()
    admin_token = secrets.token_urlsafe(24)
    with (
        tempfile.TemporaryDirectory(prefix="logclass-shot-") as tmp,
        service(Path(tmp) / "cache", admin_token) as base_url,
    ):
        shoot(base_url, args.loghub, admin_token, args.out, hidden=tmp)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
