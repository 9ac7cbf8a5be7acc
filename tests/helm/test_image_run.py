"""The chart runs the worker image exactly as the image test does (tests/image/run_config.py): same
image, arguments, environment, writable mounts and security context."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from tests.helm.conftest import WORKLOAD, Manifest, Rendered
from tests.image.run_config import GID, UID, WorkerRun, chart_values, worker_run

Render = Callable[..., Rendered]

RUN = worker_run(
    "localhost/intercom-stream:dev",
    config={
        "bootstrap_servers": "127.0.0.1:9092",
        "base_url": "http://127.0.0.1:8089",
        "web_host": "127.0.0.1",
    },
    token="tok-image-run",
)


def rendered_env(rendered: Rendered, container: Manifest, pod_name: str) -> dict[str, str]:
    """The container's environment as Kubernetes would resolve it from the ConfigMap, the Secret and
    the pod's own name (``pod_name``)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        [config_map] = [
            o for o in rendered.all("ConfigMap") if o["metadata"]["name"] == source["configMapRef"]["name"]
        ]
        env.update(config_map["data"])
    secrets = {o["metadata"]["name"]: o for o in rendered.all("Secret")}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "fieldRef" in item["valueFrom"]:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            env[item["name"]] = pod_name
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = base64.b64decode(secrets[ref["name"]]["data"][ref["key"]]).decode()
    return env


def writable_mounts(pod: Manifest, container: Manifest, claims: list[Manifest]) -> tuple[str, ...]:
    """The container's writable mounts: its emptyDirs and its own claims (a StatefulSet's volumes)."""
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = empty_dirs | {claim["metadata"]["name"] for claim in claims}
    return tuple(m["mountPath"] for m in container["volumeMounts"] if m["name"] in writable)


def test_chart_runs_the_image_as_the_image_test_does(render: Render) -> None:
    rendered = render(chart_values(RUN), with_token=False)
    workload = rendered.get(WORKLOAD)["spec"]
    pod = workload["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == RUN.image
    # No command: the image's ENTRYPOINT (intercom-stream) runs, with the chart's arguments.
    assert "command" not in container and tuple(container["args"]) == RUN.args
    assert rendered_env(rendered, container, RUN.pod_name) == RUN.env
    assert writable_mounts(pod, container, workload.get("volumeClaimTemplates", [])) == RUN.writable
    security = container["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (RUN.uid, RUN.gid) == (UID, GID)
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (UID, GID)
    assert security["readOnlyRootFilesystem"] is RUN.read_only_root is True
    assert security["allowPrivilegeEscalation"] is not RUN.no_new_privileges
    assert tuple(security["capabilities"]["drop"]) == RUN.drop_capabilities


def test_the_run_covers_every_setting_the_chart_sets_by_default(render: Render) -> None:
    """The chart's defaults are the run's defaults: a new default in values.yaml must reach the image test."""
    plain: WorkerRun = worker_run("img:1", config={}, token="t")
    rendered = render(chart_values(plain), with_token=False)
    [container] = rendered.get(WORKLOAD)["spec"]["template"]["spec"]["containers"]
    defaults: dict[str, Any] = rendered_env(rendered, container, plain.pod_name)
    assert defaults == plain.env
