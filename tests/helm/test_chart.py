"""The Helm chart: lint, render, Kubernetes schemas, each optional feature, bad values."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from streams.settings import Settings, load_settings
from tests.helm.conftest import CHART_DIR, FULLNAME, NAMESPACE, WORKLOAD, Manifest, Rendered

Render = Callable[..., Rendered]

K8S_VERSION = "1.33.0"
CRD_KINDS = {"ServiceMonitor", "ScaledObject"}
SECRET_SETTINGS = {"intercom_token", "sasl_password", "schema_registry_password"}

EVERYTHING: dict[str, Any] = {
    "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
    "keda": {"enabled": True, "maxReplicaCount": 10},
    "topicsJob": {"enabled": True},
    "grafanaDashboard": {"enabled": True},
    "kafka": {
        "sasl": {"enabled": True, "password": "pw"},
        "tls": {"enabled": True, "existingSecret": "kafka-tls", "certKey": "tls.crt", "keyKey": "tls.key"},
    },
    "config": {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"},
    "podDisruptionBudget": {"minAvailable": 1},
    "extraEnv": [{"name": "EXTRA", "value": "1"}],
}


def container(obj: Manifest) -> Manifest:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Manifest = containers[0]
    return result


def env_of(c: Manifest) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


# ---------------------------------------------------------------- lint and Kubernetes schemas


def test_lint_is_clean_with_defaults_and_with_every_feature() -> None:
    for values in ({"intercom": {"token": "t"}}, {"intercom": {"token": "t"}, **EVERYTHING}):
        report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == [] and problems == [], report


def test_lint_reports_schema_errors() -> None:
    report = helm.lint(CHART_DIR, {"intercom": {"token": "t"}, "replicaCount": "two"}, strict=True)
    assert any("/replicaCount" in e for e in report["errors"]), report


@pytest.mark.parametrize(
    "values",
    [
        {},
        EVERYTHING,
        {"intercom": {"token": None, "existingSecret": "s"}, "serviceAccount": {"create": False}},
        {
            "config": {"data_dir": "/tmp", "table_store": "memory://"},
            "persistence": {"enabled": False, "size": "1Gi"},
            "podDisruptionBudget": {"enabled": False},
            "image": {"digest": "sha256:" + "a" * 64},
        },
    ],
    ids=["defaults", "everything", "existing-secret", "data-in-tmp"],
)
def test_rendered_objects_match_kubernetes_schemas(render: Render, values: dict[str, Any]) -> None:
    rendered = render(values)
    assert rendered.objects
    for obj in rendered.objects:
        if obj["kind"] in CRD_KINDS:
            assert obj["metadata"]["name"] == FULLNAME
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        assert obj["metadata"]["namespace"] == NAMESPACE


def test_default_render_has_exactly_the_core_objects(render: Render) -> None:
    rendered = render()
    assert rendered.kinds() == sorted(
        ["ConfigMap", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount", "StatefulSet"]
    )
    assert f"statefulset/{FULLNAME}" in rendered.notes and "/health/ready" in rendered.notes
    assert "PersistentVolumeClaim per pod" in rendered.notes


# ---------------------------------------------------------------- Deployment


def test_deployment_is_locked_down(render: Render) -> None:
    dep = render().get(WORKLOAD)
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == FULLNAME
    c = container(dep)
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert mounts["/tmp/intercom-stream"] not in volumes  # the pod's own claim (below)
    [claim] = dep["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == mounts["/tmp/intercom-stream"]


def test_deployment_probes_ports_and_image(render: Render) -> None:
    rendered = render({"config": {"web_port": 7070}, "replicaCount": 3, "image": {"tag": "1.2.3"}})
    dep = rendered.get(WORKLOAD)
    c = container(dep)
    assert dep["spec"]["replicas"] == 3
    assert c["image"] == "ghcr.io/intercom-stream/intercom-stream:1.2.3"
    assert c["args"] == ["worker"] and "command" not in c
    assert c["ports"] == [{"name": "http", "containerPort": 7070, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/health/live"
    svc = rendered.get("Service")
    assert svc["spec"]["ports"][0]["port"] == 7070 and svc["spec"]["ports"][0]["targetPort"] == "http"
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    pdb = rendered.get("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_persistence_gives_each_pod_a_claim_for_rocksdb(render: Render) -> None:
    rendered = render({"persistence": {"enabled": True, "size": "20Gi", "storageClassName": "fast"}})
    sts = rendered.get("StatefulSet")
    assert sts["spec"]["serviceName"] == FULLNAME and sts["spec"]["podManagementPolicy"] == "Parallel"
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert rendered.get("ConfigMap")["data"]["INTERCOM_STREAM_TABLE_STORE"] == "rocksdb://"
    assert not rendered.has("Deployment")
    # Stable pod names: static group membership, so a restarted pod needs no rebalance.
    env = {e["name"]: e for e in container(sts)["env"]}
    assert env["INTERCOM_STREAM_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_without_persistence_a_deployment_keeps_the_data_dir_on_an_emptydir(render: Render) -> None:
    rendered = render(
        {
            "persistence": {"enabled": False, "size": "1Gi"},
            "keda": {"enabled": True},
            "config": {"table_store": "memory://"},
        }
    )
    dep = rendered.get("Deployment")
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp/intercom-stream"]]
    assert "volumeClaimTemplates" not in dep["spec"] and not rendered.has("StatefulSet")
    # A Deployment's pod names change on every restart: no static membership.
    assert "INTERCOM_STREAM_GROUP_INSTANCE_ID" not in {e["name"] for e in container(dep)["env"]}
    assert rendered.get("ScaledObject")["spec"]["scaleTargetRef"]["kind"] == "Deployment"


def test_custom_data_dir_gets_its_own_volume(render: Render) -> None:
    c = container(render({"config": {"data_dir": "/var/lib/intercom-stream"}}).get(WORKLOAD))
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp", "/var/lib/intercom-stream"}


def test_config_checksum_follows_the_config(render: Render) -> None:
    def checksum(values: dict[str, Any]) -> str:
        annotations = render(values).get(WORKLOAD)["spec"]["template"]["metadata"]["annotations"]
        value: str = annotations["checksum/config"]
        assert re.fullmatch(r"[0-9a-f]{64}", value)
        return value

    base = checksum({})
    assert checksum({}) == base
    assert checksum({"config": {"max_attempts": 7}}) != base


# ---------------------------------------------------------------- config → environment


def test_config_renders_as_prefixed_env_in_a_configmap(render: Render) -> None:
    rendered = render(
        {
            "config": {
                "region": "eu",
                "max_attempts": 9,
                "commit_interval_s": 2.5,
                "create_topics": False,
                "partitions": 1000000,
                "some_future_setting": "x",
                "base_url": None,
            }
        }
    )
    data = rendered.get("ConfigMap")["data"]
    assert data["INTERCOM_STREAM_REGION"] == "eu"
    assert data["INTERCOM_STREAM_MAX_ATTEMPTS"] == "9"
    assert data["INTERCOM_STREAM_COMMIT_INTERVAL_S"] == "2.5"
    assert data["INTERCOM_STREAM_CREATE_TOPICS"] == "false"
    assert data["INTERCOM_STREAM_PARTITIONS"] == "1000000"
    assert data["INTERCOM_STREAM_SOME_FUTURE_SETTING"] == "x"
    assert "INTERCOM_STREAM_BASE_URL" not in data
    assert "INTERCOM_STREAM_INTERCOM_TOKEN" not in data
    c = container(rendered.get(WORKLOAD))
    assert c["envFrom"] == [{"configMapRef": {"name": FULLNAME}}]


def test_every_worker_setting_is_documented_and_round_trips(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    known = schema["properties"]["config"]["properties"]
    values_text = (CHART_DIR / "values.yaml").read_text()
    defaults = load_settings()
    config: dict[str, Any] = {}
    for name in Settings.model_fields:
        if name in SECRET_SETTINGS:
            continue
        assert name in known, f"setting {name} missing from values.schema.json config.properties"
        assert re.search(rf"^\s*#?\s*{name}:", values_text, re.M), f"setting {name} not listed in values.yaml"
        value = getattr(defaults, name)
        if value is not None:
            config[name] = value.value if hasattr(value, "value") else value
    config.update({"region": "au", "max_attempts": 3, "request_timeout_s": 2.5, "partitions": 8})
    data = render({"config": config}).get("ConfigMap")["data"]
    assert len(data) == len(config)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    loaded = load_settings()
    assert loaded.region.value == "au" and loaded.max_attempts == 3 and loaded.partitions == 8
    assert loaded.request_timeout_s == 2.5
    assert loaded.model_dump(
        exclude={"intercom_token", "region", "max_attempts", "request_timeout_s", "partitions"}
    ) == defaults.model_dump(
        exclude={"intercom_token", "region", "max_attempts", "request_timeout_s", "partitions"}
    )


# ---------------------------------------------------------------- secrets


def test_chart_created_token_secret(render: Render) -> None:
    rendered = render({"intercom": {"token": "s3cr3t"}})
    secret = rendered.get("Secret")
    assert base64.b64decode(secret["data"]["intercom-token"]).decode() == "s3cr3t"
    dep = rendered.get(WORKLOAD)
    ref = env_of(container(dep))["INTERCOM_STREAM_INTERCOM_TOKEN"]
    assert ref == {"secretKeyRef": {"name": FULLNAME, "key": "intercom-token"}}
    assert "checksum/secret" in dep["spec"]["template"]["metadata"]["annotations"]


def test_existing_token_secret(render: Render) -> None:
    rendered = render({"intercom": {"existingSecret": "ic", "existingSecretKey": "tok"}}, with_token=False)
    assert not rendered.has("Secret")
    dep = rendered.get(WORKLOAD)
    ref = env_of(container(dep))["INTERCOM_STREAM_INTERCOM_TOKEN"]
    assert ref == {"secretKeyRef": {"name": "ic", "key": "tok"}}
    assert "checksum/secret" not in dep["spec"]["template"]["metadata"]["annotations"]
    assert "Secret ic, key tok" in rendered.notes


def test_kafka_sasl_and_tls(render: Render) -> None:
    created = render({"kafka": {"sasl": {"enabled": True, "password": "pw"}}})
    assert base64.b64decode(created.get("Secret")["data"]["sasl-password"]).decode() == "pw"
    env = env_of(container(created.get(WORKLOAD)))
    assert env["INTERCOM_STREAM_SASL_PASSWORD"] == {
        "secretKeyRef": {"name": FULLNAME, "key": "sasl-password"}
    }
    assert "INTERCOM_STREAM_SSL_CAFILE" not in env

    rendered = render(
        {
            "intercom": {"existingSecret": "ic"},
            "kafka": {
                "sasl": {"enabled": True, "existingSecret": "kafka-user", "existingSecretKey": "pass"},
                "tls": {
                    "enabled": True,
                    "existingSecret": "kafka-tls",
                    "certKey": "c.pem",
                    "keyKey": "k.pem",
                },
            },
        },
        with_token=False,
    )
    assert not rendered.has("Secret")
    dep = rendered.get(WORKLOAD)
    c = container(dep)
    env = env_of(c)
    assert env["INTERCOM_STREAM_SASL_PASSWORD"] == {"secretKeyRef": {"name": "kafka-user", "key": "pass"}}
    assert env["INTERCOM_STREAM_SSL_CAFILE"] == "/etc/intercom-stream/kafka-tls/ca.crt"
    assert env["INTERCOM_STREAM_SSL_CERTFILE"] == "/etc/intercom-stream/kafka-tls/c.pem"
    assert env["INTERCOM_STREAM_SSL_KEYFILE"] == "/etc/intercom-stream/kafka-tls/k.pem"
    volume = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "kafka-tls")
    assert volume["secret"]["secretName"] == "kafka-tls"
    assert [i["key"] for i in volume["secret"]["items"]] == ["ca.crt", "c.pem", "k.pem"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == "kafka-tls")
    assert mount == {"name": "kafka-tls", "mountPath": "/etc/intercom-stream/kafka-tls", "readOnly": True}


# ---------------------------------------------------------------- optional features


def test_schema_registry_url_in_config_and_credentials_from_an_existing_secret(render: Render) -> None:
    url = "https://psrc-abc.eu-west-1.aws.confluent.cloud"
    rendered = render(
        {
            "config": {"schema_registry_url": url},
            "schemaRegistry": {"existingSecret": "sr-creds", "usernameKey": "key", "passwordKey": "secret"},
        }
    )
    assert rendered.get("ConfigMap")["data"]["INTERCOM_STREAM_SCHEMA_REGISTRY_URL"] == url
    env = env_of(container(rendered.get(WORKLOAD)))
    assert env["INTERCOM_STREAM_SCHEMA_REGISTRY_PASSWORD"] == {
        "secretKeyRef": {"name": "sr-creds", "key": "secret"}
    }
    assert env["INTERCOM_STREAM_SCHEMA_REGISTRY_USERNAME"] == {
        "secretKeyRef": {"name": "sr-creds", "key": "key"}
    }
    plain = env_of(container(render({"config": {"schema_registry_url": url}}).get(WORKLOAD)))
    assert not any(name.startswith("INTERCOM_STREAM_SCHEMA_REGISTRY") for name in plain)


def test_service_monitor(render: Render) -> None:
    rendered = render({"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}}})
    sm = rendered.get("ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    svc = rendered.get("Service")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert svc["spec"]["ports"][0]["name"] == "http"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


@pytest.mark.parametrize(("max_replicas", "partitions", "expected"), [(10, 4, 4), (3, 4, 3), (12, 12, 12)])
def test_keda_scaled_object_caps_replicas_at_partitions(
    render: Render, max_replicas: int, partitions: int, expected: int
) -> None:
    rendered = render(
        {
            "keda": {"enabled": True, "maxReplicaCount": max_replicas, "lagThreshold": 500},
            "config": {
                "partitions": partitions,
                "bootstrap_servers": "b1:9093,b2:9093",
                "app_id": "ics",
                "raw_events_topic": "segment-events",
            },
        }
    )
    so = rendered.get("ScaledObject")
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert so["spec"]["maxReplicaCount"] == expected
    assert so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": WORKLOAD, "name": FULLNAME}
    (trigger,) = so["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["bootstrapServers"] == "b1:9093,b2:9093"
    assert meta["consumerGroup"] == "ics"
    assert meta["topic"] == "segment-events"
    assert meta["lagThreshold"] == "500"
    assert all(isinstance(v, str) for v in meta.values())
    assert "replicas" not in rendered.get(WORKLOAD)["spec"]


def test_keda_defaults_follow_worker_defaults(render: Render) -> None:
    rendered = render(
        {"keda": {"enabled": True, "triggerAuthenticationRef": "kafka-auth"}, "config": {"app_id": None}}
    )
    (trigger,) = rendered.get("ScaledObject")["spec"]["triggers"]
    assert trigger["metadata"]["consumerGroup"] == "intercom-stream"
    assert trigger["metadata"]["topic"] == "raw-events"
    assert trigger["authenticationRef"] == {"name": "kafka-auth"}


def test_topics_job_is_a_pre_install_hook_with_the_worker_image(render: Render) -> None:
    rendered = render({"topicsJob": {"enabled": True}, "config": {"partitions": 6}})
    job = rendered.get("Job", f"{FULLNAME}-topics")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    c = container(job)
    assert c["image"] == container(rendered.get(WORKLOAD))["image"]
    assert c["args"] == ["topics", "create"]
    env = env_of(c)
    # pre-install runs before the ConfigMap exists: settings are inlined, not envFrom.
    assert "envFrom" not in c
    assert env["INTERCOM_STREAM_PARTITIONS"] == "6"
    assert (
        env["INTERCOM_STREAM_BOOTSTRAP_SERVERS"]
        == rendered.get("ConfigMap")["data"]["INTERCOM_STREAM_BOOTSTRAP_SERVERS"]
    )
    assert "INTERCOM_STREAM_INTERCOM_TOKEN" not in env
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert not render().has("Job")


def test_topics_job_gets_a_hook_secret_for_a_chart_managed_sasl_password(render: Render) -> None:
    rendered = render(
        {"topicsJob": {"enabled": True}, "kafka": {"sasl": {"enabled": True, "password": "pw"}}}
    )
    hook_secret = rendered.get("Secret", f"{FULLNAME}-topics")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        rendered.get("Job", f"{FULLNAME}-topics")["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    env = env_of(container(rendered.get("Job", f"{FULLNAME}-topics")))
    assert env["INTERCOM_STREAM_SASL_PASSWORD"] == {
        "secretKeyRef": {"name": f"{FULLNAME}-topics", "key": "sasl-password"}
    }


DASHBOARD_METRICS = [
    "intercom_stream_events_in_total",
    "intercom_stream_requests_total",
    "intercom_stream_request_duration_seconds",
    "intercom_stream_retries_total",
    "intercom_stream_rate_limited_total",
    "intercom_stream_dead_letters_total",
    "intercom_stream_rate_budget_used",
    "intercom_stream_rate_budget_remaining",
    "intercom_stream_in_flight_requests",
    "intercom_stream_table_size",
    "intercom_stream_consumer_lag",
    "intercom_stream_delivery_paused",
    "intercom_stream_rate_gate_waits_total",
    "intercom_stream_sink_in_flight",
    "intercom_stream_rewinds_total",
    "intercom_stream_replays_total",
]


def test_grafana_dashboard_configmap(render: Render) -> None:
    assert [cm["metadata"]["name"] for cm in render().all("ConfigMap")] == [FULLNAME]  # off by default
    rendered = render({"grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Streams"}}})
    cm = rendered.get("ConfigMap", f"{FULLNAME}-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Streams"}
    dashboard = json.loads(cm["data"]["intercom-stream.json"])
    assert dashboard["uid"] == "intercom-stream"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"intercom_stream_[a-z_]+", e)}
    assert {re.sub(r"_(bucket|sum|count)$", "", m) for m in used} == set(DASHBOARD_METRICS)
    assert any("histogram_quantile" in e and "request_duration_seconds_bucket" in e for e in exprs)
    for metric, label in [
        ("requests_total", "endpoint"),
        ("requests_total", "status"),
        ("events_in_total", "type"),
        ("dead_letters_total", "reason"),
        ("rate_budget_used", "partition"),
        ("table_size", "table"),
        ("consumer_lag", "topic"),
    ]:
        assert any(f"intercom_stream_{metric}" in e and label in e for e in exprs), (metric, label)


# ---------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"config": {"partitions": "four"}}, "/config/partitions"),
        ({"config": {"region": "mars"}}, "/config/region"),
        ({"config": {"rate_limit": "fast"}}, "/config/rate_limit"),
        ({"config": {"future_list": [1, 2]}}, "/config/future_list"),
        ({"keda": {"enabled": "yes"}}, "/keda/enabled"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ],
)
def test_schema_rejects_bad_values(render: Render, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        render(values)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "the Intercom access token is required: set intercom.existingSecret"),
        (
            {"intercom": {"token": "t", "existingSecret": "s"}},
            "set only one of intercom.token and intercom.existingSecret",
        ),
        (
            {"intercom": {"token": "t"}, "kafka": {"sasl": {"enabled": True}}},
            "kafka.sasl: enabled needs the SASL password",
        ),
        (
            {"intercom": {"token": "t"}, "kafka": {"tls": {"enabled": True}}},
            "kafka.tls: enabled needs kafka.tls.existingSecret",
        ),
        (
            {"intercom": {"token": "t"}, "config": {"intercom_token": "x"}},
            "config.intercom_token: secrets do not belong",
        ),
        ({"intercom": {"token": "t"}, "config": {"web_port": 0}}, "at '/config/web_port'"),
        (
            {"intercom": {"token": "t"}, "config": {"data_dir": "/tmp"}},
            "persistence: config.data_dir must be a folder of its own",
        ),
    ],
)
def test_render_fails_with_a_clear_message(render: Render, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as err:
        render(values, with_token=False)
    assert message in str(err.value)


def test_values_yaml_is_the_chart_default(chart: helm.Chart) -> None:
    on_disk = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert chart.values == on_disk
    chart.validate_schema({"intercom": {"token": "t"}})
