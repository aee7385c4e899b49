"""Faults while clients keep posting to a real ``logclass serve``: what the clients saw,
that no line was lost or moved, and how the service came back.

Each test is bounded (about 5-10 s of traffic). Lines are regex lines and ``LegacyCRM``
lines with fresh words (the LLM route, never cached), so no embedding model is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import string
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from processors.templates import mask
from tests.conftest import REPO
from tests.hardening.processes import LlmProcess, LogclassProcess, Seen, keep_posting

pytestmark = pytest.mark.e2e
SECRETS = {"LOGCLASS_LLM_API_KEY": "MARKER-key-e2e-1c9", "LOGCLASS_ADMIN_TOKEN": "MARKER-adm-2d"}
FAST_BREAKER = {
    "LOGCLASS_LLM_MAX_RETRIES": "0",
    "LOGCLASS_LLM_BREAKER_FAILURES": "2",
    "LOGCLASS_LLM_BREAKER_COOLDOWN_SECONDS": "1",
    "LOGCLASS_LLM_CONNECT_TIMEOUT_SECONDS": "1",
}
rng = random.Random(7)


def fresh() -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=8))


def crm_line() -> dict[str, str]:
    return {"source": "LegacyCRM", "log_message": f"Case escalation for ticket {fresh()} failed"}


def mixed_logs() -> list[dict[str, str]]:
    regex = [{"source": "App", "log_message": f"User User{rng.randint(1, 999)} logged in."}]
    return regex * 3 + [crm_line() for _ in range(5)]


def pairs(seen: Seen, since: float = 0.0, until: float = float("inf")):
    """(sent line, its result) for every answered request in the window."""
    return [
        (log, result)
        for t, logs, answer in seen.answers
        if since <= t < until and isinstance(answer, httpx.Response) and answer.status_code == 200
        for log, result in zip(logs, answer.json()["results"], strict=True)
    ]


def assert_nothing_lost(seen: Seen) -> None:
    assert seen.answers, "the clients got no answers at all"
    for _, logs, answer in seen.answers:
        assert isinstance(answer, httpx.Response), f"a client saw {answer!r}"
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["template"] for r in results] == [mask(log["log_message"]) for log in logs]


@pytest.fixture(scope="module")
def llm():
    server = LlmProcess().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory, llm):
    folder = tmp_path_factory.mktemp("faults")
    process = LogclassProcess(folder, LOGCLASS_LLM_BASE_URL=llm.base_url, **FAST_BREAKER,
                              **SECRETS).start()  # fmt: skip
    process.folder = folder
    yield process
    process.stop()


async def health(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        return (await http.get("/api/v1/health")).json()["components"]


async def test_llm_killed_then_restarted_mid_run(service, llm):
    seen, stop = Seen(), asyncio.Event()
    posting = asyncio.create_task(keep_posting(service.url, mixed_logs, seen, stop))
    await asyncio.sleep(1.5)
    killed = time.monotonic()
    await asyncio.to_thread(llm.kill)
    await asyncio.sleep(2.5)
    down = (await health(service.url))["llm"]
    restarted = time.monotonic()
    await asyncio.to_thread(llm.start)
    recovered = None
    while recovered is None and time.monotonic() < restarted + 8:
        await asyncio.sleep(0.1)
        if any(r["tier"] == "llm" for _, r in pairs(seen, since=restarted)):
            recovered = time.monotonic()
    stop.set()
    await posting

    assert_nothing_lost(seen)
    crm = lambda since, until: [r for log, r in pairs(seen, since, until)  # noqa: E731
                                if log["source"] == "LegacyCRM"]  # fmt: skip
    assert {r["tier"] for r in crm(0, killed)} == {"llm"}
    outage = crm(killed + 0.5, restarted)
    assert outage and {(r["label"], r["reason"]) for r in outage} == {
        ("Unclassified", "llm_unavailable")
    }
    assert down["status"] == "degraded" and down["breaker"] in ("open", "half_open")
    assert recovered is not None, "no LLM verdict within 8 s of the restart"
    assert recovered - restarted < 5  # cool-down 1 s, then one probe
    assert (await health(service.url))["llm"]["status"] == "ok"


class Frozen:
    """Makes the disk cache folder unwritable, and always undoes it.

    With ``chattr +i`` (root with CAP_LINUX_IMMUTABLE, on a file system that has the flag):
    the folder first, so no file can appear or vanish any more (sqlite creates and removes
    its journal files as it goes), then each file it now holds, listed after that; nothing
    races. Where the flag is refused, ``cache.db`` is overwritten with garbage instead, and
    its bytes are put back afterwards. ``how`` says which, or '' when neither was possible.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.how = ""
        self._frozen: list[Path] = []
        self._saved: bytes | None = None

    def freeze(self) -> str:
        if self._chattr("+i", self.folder):
            self._frozen.append(self.folder)
            for path in sorted(self.folder.iterdir()):
                if path.is_symlink():
                    continue  # chattr follows no link; nothing there to freeze
                if not self._chattr("+i", path):
                    self.thaw()  # all or nothing
                    break
                self._frozen.append(path)
            else:
                self.how = "immutable"
                return self.how
        database = self.folder / "cache.db"
        if database.is_file():
            self._saved = database.read_bytes()
            database.write_bytes(b"this is not a sqlite database" * 100)
            self.how = "garbage"
        return self.how

    def thaw(self) -> None:
        """Undoes whatever ``freeze`` did (safe to call twice, or after a failed freeze)."""
        for path in reversed(self._frozen):
            self._chattr("-i", path)
        self._frozen.clear()
        if self._saved is not None:
            (self.folder / "cache.db").write_bytes(self._saved)
            self._saved = None

    @staticmethod
    def _chattr(flag: str, path: Path) -> bool:
        try:
            done = subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):  # no chattr on this machine
            return False
        return done.returncode == 0


async def test_disk_cache_made_read_only_mid_run(service):
    folder = service.folder / "cache"
    assert folder.is_dir(), "the service made no disk cache"
    repeated = [crm_line() for _ in range(5)]
    make = lambda: repeated + [crm_line() for _ in range(3)]  # noqa: E731
    seen, stop = Seen(), asyncio.Event()
    posting = asyncio.create_task(keep_posting(service.url, make, seen, stop))
    frozen = Frozen(folder)
    try:
        await asyncio.sleep(1.5)
        how = await asyncio.to_thread(frozen.freeze)
        since = time.monotonic()
        await asyncio.sleep(2.5)
        cache = (await health(service.url))["cache"]
    finally:
        stop.set()
        await posting
        await asyncio.to_thread(frozen.thaw)
    if not how:
        pytest.skip("neither chattr +i nor a cache.db to corrupt on this machine")

    assert_nothing_lost(seen)
    after = [r for log, r in pairs(seen, since=since) if log["source"] == "LegacyCRM"]
    assert after and {r["tier"] for r in after} == {"llm"}  # still classified
    assert any(r["cached"] for r in after)  # the memory level still serves repeats
    assert cache["status"] == "degraded", cache  # and says the disk is failing


def test_freezing_is_all_or_nothing_and_always_undone(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir()
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        (folder / name).write_bytes(b"sqlite")
    (folder / "link").symlink_to(folder / "cache.db")
    calls: list[tuple[str, str]] = []

    def chattr(flag: str, path: Path) -> bool:  # refuses the -shm file, as a race would
        calls.append((flag, path.name))
        return not (flag == "+i" and path.name == "cache.db-shm")

    monkeypatch.setattr(Frozen, "_chattr", staticmethod(chattr))
    frozen = Frozen(folder)
    assert frozen.freeze() == "garbage"  # half a freeze is undone, then the fallback
    assert calls == [
        ("+i", "cache"), ("+i", "cache.db"), ("+i", "cache.db-shm"),
        ("-i", "cache.db"), ("-i", "cache"),
    ]  # fmt: skip
    assert (folder / "cache.db").read_bytes() != b"sqlite"
    frozen.thaw()
    frozen.thaw()
    assert (folder / "cache.db").read_bytes() == b"sqlite"


async def test_client_cancelling_mid_batch_leaves_nothing_stuck(service, llm):
    llm.server.script(default="ok", delay_ms=1500)
    try:
        batch = {"logs": [crm_line() for _ in range(30)]}
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            gone = asyncio.create_task(http.post("/api/v1/classify", json=batch))
            await asyncio.sleep(0.4)
            gone.cancel()  # the connection is closed mid-request
            with contextlib.suppress(asyncio.CancelledError):
                await gone
            other = await http.post("/api/v1/classify", json={"logs": mixed_logs()})
            assert other.status_code == 200  # the server kept serving
            started = time.monotonic()
            again = await http.post("/api/v1/classify", json=batch)
            took = time.monotonic() - started
            stats = (await http.get("/api/v1/performance/stats")).json()
    finally:
        llm.server.script(default="ok", delay_ms=0)
    assert again.status_code == 200 and took < 5
    results = again.json()["results"]
    assert len(results) == 30 and {r["tier"] for r in results} == {"llm"}
    assert stats["gauges"]["http_in_flight"] == 0  # the stats request itself is a GET


async def test_sigterm_finishes_in_flight_refuses_new_and_exits_in_time(tmp_path, llm):
    grace = 3.0
    service = LogclassProcess(tmp_path, LOGCLASS_LLM_BASE_URL=llm.base_url,
                              LOGCLASS_SHUTDOWN_TIMEOUT_SECONDS=str(grace))  # fmt: skip
    await asyncio.to_thread(service.start)
    llm.server.reset()
    llm.server.script("slow:20000", default="ok", delay_ms=1000)
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            post = lambda: asyncio.create_task(  # noqa: E731
                http.post("/api/v1/classify", json={"logs": [crm_line()]})
            )
            stuck = post()  # its LLM call takes 20 s: longer than the grace period
            while llm.server.stats()["calls"] < 1:
                await asyncio.sleep(0.05)
            in_flight = [post() for _ in range(3)]
            while llm.server.stats()["calls"] < 4:
                await asyncio.sleep(0.05)
            signalled = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(base_url=service.url) as late:  # a new connection
                with pytest.raises(httpx.ConnectError):
                    await late.post("/api/v1/classify", json={"logs": []})
            finished = await asyncio.gather(*in_flight)
            code = await asyncio.to_thread(service.process.wait, grace + 5)
            exited = time.monotonic() - signalled
            with pytest.raises(httpx.TransportError):
                await stuck  # cut at the deadline: the connection closes unanswered
    finally:
        llm.server.reset()
        service.stop()
    assert [r.status_code for r in finished] == [200] * 3
    assert all(r.json()["results"][0]["tier"] == "llm" for r in finished)
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
    assert exited < grace + 2.5
    assert "timeout graceful shutdown exceeded" in service.output()


def test_the_process_output_holds_no_secrets(service):
    output = service.output()
    assert "Uvicorn running" in output or "Application startup complete" in output
    for marker in SECRETS.values():
        assert marker not in output


# Run in a child: the failure this guards against is a SIGBUS, which no Python code catches.
_FROZEN_CACHE_PROBE = """
import subprocess, sys
from pathlib import Path
from processors.cache import TemplateCache
from processors.pipeline import Outcome
folder = Path(sys.argv[1])
cache = TemplateCache(folder)
cache.set_many({"a": Outcome("Error", 0.9, "bert", None)})
files = [str(folder), *(str(p) for p in folder.iterdir())]
assert subprocess.run(["chattr", "+i", *files]).returncode == 0, "no chattr"
cache.set_many({"b": Outcome("Error", 0.9, "bert", None)})
print(sorted(cache.get_many(["a", "b"])))
"""


def test_an_unwritable_wal_index_does_not_kill_the_process(tmp_path):
    folder = tmp_path / "cache"
    try:
        done = subprocess.run([sys.executable, "-c", _FROZEN_CACHE_PROBE, str(folder)],
                              capture_output=True, text=True, timeout=30, cwd=REPO)  # fmt: skip
    finally:
        subprocess.run(["chattr", "-R", "-i", str(tmp_path)], capture_output=True)
    if "no chattr" in done.stderr:
        pytest.skip("chattr +i is not allowed here")
    assert done.returncode == 0, f"the process died: {done.returncode} {done.stderr[-300:]}"
    assert done.stdout.strip() == "['a', 'b']"
