"""A real syslog-ng daemon running one of ``examples/syslog-ng/*.conf``, stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "syslog-ng"
# Test-sized timing; everything else is the example file as users get it.
TEST_TIMING = {"time-reopen(5)": "time-reopen(1)", "batch-lines(500)": "batch-lines(8)"}


def syslog_ng_binary() -> str | None:
    return shutil.which("syslog-ng") or next(
        (p for p in ("/usr/sbin/syslog-ng", "/sbin/syslog-ng") if os.access(p, os.X_OK)), None
    )


def example_config(name: str) -> str:
    config = (EXAMPLES / name).read_text()
    for old, new in TEST_TIMING.items():
        assert old in config, f"{name} no longer sets {old}"
        config = config.replace(old, new)
    return config


@contextmanager
def running_syslog_ng(example: str, log_file: Path, url: str) -> Iterator[Path]:
    """Runs syslog-ng in the foreground with private persist/pid/control files.

    Yields the folder holding its ``stderr.log``. The folder is short (``/tmp/sng-*``)
    because the control socket's path must fit a unix socket address.
    """
    binary = syslog_ng_binary()
    assert binary is not None
    workdir = Path(tempfile.mkdtemp(prefix="sng-", dir="/tmp"))
    config = workdir / "syslog-ng.conf"
    config.write_text(example_config(example))
    command = [
        binary, "-F", "--no-caps", "-f", str(config),
        f"--persist-file={workdir}/persist", f"--pidfile={workdir}/pid",
        f"--control={workdir}/ctl",
    ]  # fmt: skip
    env = {**os.environ, "LOG_FILE": str(log_file), "LOGCLASS_URL": url}
    with open(workdir / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stderr, stderr=stderr)
    try:
        yield workdir
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)
