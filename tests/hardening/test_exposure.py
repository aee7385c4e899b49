"""What the shipped deployment files expose and how orchestrators probe them: a writable
/tmp under a read-only root, readiness (not liveness) deciding traffic and health checks."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.main import create_app
from app.settings import Settings
from tests.conftest import REPO, app_client
from tests.hardening.conftest import offline_settings

READY = "/api/v1/health/ready"
LIVE = "/api/v1/health"
CLASSIFY = "/api/v1/classify"
ONE_LINE = {"logs": [{"source": "App", "log_message": "User alice logged in."}]}


def _kubernetes_logclass() -> tuple[dict, dict]:
    _, pod = yaml.safe_load_all((REPO / "examples" / "kubernetes" / "sidecar-pod.yaml").read_text())
    logclass = next(c for c in pod["spec"]["initContainers"] if c["name"] == "logclass")
    return pod, logclass


def test_kubernetes_gives_logclass_a_writable_tmp_under_its_read_only_root():
    # torch and the tokenizer need a temporary directory: without one the model cannot load
    pod, logclass = _kubernetes_logclass()
    assert logclass["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in logclass["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]]


def test_kubernetes_routes_traffic_by_readiness_and_restarts_by_liveness():
    _, logclass = _kubernetes_logclass()
    assert logclass["readinessProbe"]["httpGet"]["path"] == READY
    assert logclass["livenessProbe"]["httpGet"]["path"] == LIVE  # a broken model: no restarts
    assert logclass["startupProbe"]["httpGet"]["path"] == LIVE


def test_compose_and_dockerfile_health_checks_ask_readiness():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert READY in " ".join(compose["services"]["logclass"]["healthcheck"]["test"])
    dockerfile = (REPO / "Dockerfile").read_text()
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)\n", dockerfile, re.M | re.S)
    assert healthcheck and READY in healthcheck.group(0)


# -- the Host check (DNS rebinding) ----------------------------------------------------------
# A web page on evil.example whose name is re-pointed at 127.0.0.1 can post to a service on
# loopback as "same origin"; its requests still say `Host: evil.example`.


async def _status(tmp_path, host: str, **settings: Any) -> int:
    app = create_app(offline_settings(tmp_path, **settings))
    async with app_client(app) as http:
        return (await http.post(CLASSIFY, json=ONE_LINE, headers={"Host": host})).status_code


async def test_a_host_the_service_is_not_known_by_is_refused(tmp_path):
    assert await _status(tmp_path, "evil.example") == 400
    assert await _status(tmp_path, "evil.example:8000") == 400


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "testserver"])
async def test_loopback_names_are_allowed_by_default(tmp_path, host):
    assert await _status(tmp_path, host) == 200


async def test_allowed_hosts_lists_the_names_clients_use(tmp_path):
    names = {"allowed_hosts": "logclass, *.svc.cluster.local"}
    assert await _status(tmp_path, "logclass:8000", **names) == 200
    assert await _status(tmp_path, "logclass.logging.svc.cluster.local", **names) == 200
    assert await _status(tmp_path, "localhost", **names) == 400  # the list replaces the default
    assert await _status(tmp_path, "anything.example", allowed_hosts="*") == 200


def test_a_malformed_allowed_host_is_refused_at_start_up(monkeypatch):
    monkeypatch.setenv("LOGCLASS_ALLOWED_HOSTS", "localhost, logclass*")
    with pytest.raises(ValidationError, match="LOGCLASS_ALLOWED_HOSTS.*logclass\\*"):
        Settings()
    monkeypatch.setenv("LOGCLASS_ALLOWED_HOSTS", "")  # an unset compose variable
    with pytest.raises(ValidationError, match="LOGCLASS_ALLOWED_HOSTS is empty"):
        Settings()


def test_kubernetes_probes_name_a_host_the_service_allows():
    # the kubelet sends `Host: <pod IP>`, unknown in advance: the probes say `localhost`
    _, logclass = _kubernetes_logclass()
    allowed = Settings().allowed_host_names
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in logclass[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in allowed


def test_compose_publishes_on_loopback_unless_a_token_guards_the_port():
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["logclass"]
    guarded = "LOGCLASS_API_TOKEN" in service["environment"]
    assert guarded or all(str(p).startswith("127.0.0.1:") for p in service["ports"])
