"""What the shipped deployment files expose and how orchestrators probe them: a writable
/tmp under a read-only root, readiness (not liveness) deciding traffic and health checks."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

READY = "/api/v1/health/ready"
LIVE = "/api/v1/health"


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
