"""The example configs that cannot be run here still say what the service expects."""

import tomllib

import yaml

from tests.conftest import REPO

EXAMPLES = REPO / "examples"


def test_vector_example_posts_json_to_ingest_and_skips_the_head_healthcheck():
    sink = tomllib.loads((EXAMPLES / "vector" / "vector.toml").read_text())["sinks"]["logclass"]
    assert sink["type"] == "http" and sink["uri"].endswith("/api/v1/ingest")
    assert sink["encoding"]["codec"] == "json"
    assert sink["healthcheck"]["enabled"] is False


def test_otel_collector_example_exports_protobuf_to_the_root_endpoint():
    config = yaml.safe_load((EXAMPLES / "otel-collector" / "config.yaml").read_text())
    exporter = config["exporters"]["otlphttp/logclass"]
    assert exporter["endpoint"].rstrip("/").endswith(":8000")  # the exporter adds /v1/logs
    assert exporter["encoding"] == "proto"
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlphttp/logclass"]


def test_text_configs_point_at_ingest():
    assert (
        "URI              /api/v1/ingest"
        in (EXAMPLES / "fluent-bit" / "fluent-bit.conf").read_text()
    )
    logstash = (EXAMPLES / "logstash" / "logstash.conf").read_text()
    assert '"http://127.0.0.1:8000/api/v1/ingest"' in logstash and '"json_batch"' in logstash


def test_kubernetes_pod_runs_logclass_before_its_shipper_with_health_probes():
    config_map, pod = yaml.safe_load_all((EXAMPLES / "kubernetes" / "sidecar-pod.yaml").read_text())
    sidecars = pod["spec"]["initContainers"]
    assert [c["name"] for c in sidecars] == ["logclass", "syslog-ng"]
    assert all(c["restartPolicy"] == "Always" for c in sidecars)
    logclass = sidecars[0]
    for probe in ("startupProbe", "livenessProbe"):
        assert logclass[probe]["httpGet"]["path"] == "/api/v1/health"
    assert logclass["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready"
    env = {e["name"]: e["value"] for e in logclass["env"]}
    assert env["LOGCLASS_HOST"] == "0.0.0.0" and env["LOGCLASS_FORWARD_URL"]
    assert float(env["LOGCLASS_INGEST_DEADLINE_SECONDS"]) < 10  # syslog-ng's timeout(10)
    assert logclass["resources"]["limits"]["memory"]
    assert "http://127.0.0.1:8000/api/v1/ingest" in config_map["data"]["syslog-ng.conf"]
