"""How the Helm chart runs the worker container, as one definition: the image test runs the image this
way (tests/image), and the chart test checks the chart renders exactly this (tests/helm).

    run = worker_run("localhost/intercom-stream:dev", config={...}, token="...")
    chart_values(run)   -> Helm values that make the chart's workers run it
    podman_argv(run)    -> the `podman run` arguments that run it on this machine
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Setting = str | int | float  # as the chart's values schema types it

UID = GID = 10001
WORKER_ARGS = ("worker",)
# The chart mounts an emptyDir on /tmp and the pod's volume (or an emptyDir) on the data dir; the rest of
# the root is read-only.
DATA_DIR = "/tmp/intercom-stream"
# Container limits this machine lets podman set (it may not raise rlimits: no CAP_SYS_RESOURCE).
ULIMITS = ("nofile=8192:8192", "nproc=4096:4096")


@dataclass(frozen=True)
class WorkerRun:
    """One worker container: image, arguments, environment, writable mounts and security context."""

    image: str
    config: dict[str, Setting]  # worker settings by lower-case name (the chart's `config:`)
    token: str = field(repr=False)
    args: tuple[str, ...] = WORKER_ARGS
    uid: int = UID
    gid: int = GID
    read_only_root: bool = True
    drop_capabilities: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    # The StatefulSet's first pod: its stable name is the worker's static group membership id.
    pod_name: str = "intercom-stream-0"

    @property
    def writable(self) -> tuple[str, ...]:
        data_dir = str(self.config["data_dir"])
        return ("/tmp",) if data_dir == "/tmp" else ("/tmp", data_dir)

    @property
    def env(self) -> dict[str, str]:
        # As the chart's ConfigMap renders them: INTERCOM_STREAM_<NAME>, values as text.
        env = {f"INTERCOM_STREAM_{name.upper()}": str(value) for name, value in self.config.items()}
        return {
            **env,
            "INTERCOM_STREAM_INTERCOM_TOKEN": self.token,
            "INTERCOM_STREAM_GROUP_INSTANCE_ID": self.pod_name,
        }


def worker_run(image: str, *, config: dict[str, Setting], token: str) -> WorkerRun:
    """The run with the chart's defaults for what ``config`` leaves out (values.yaml's `config:`)."""
    defaults: dict[str, Setting] = {
        "bootstrap_servers": "kafka:9092",
        "app_id": "intercom-stream",
        "partitions": 4,
        "web_port": 6066,
        "data_dir": DATA_DIR,
        "table_store": "rocksdb://",  # on the pod's own volume (the chart's persistence)
    }
    return WorkerRun(image=image, config={**defaults, **config}, token=token)


def repository_and_tag(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return image, "latest"
    return repository, tag


def chart_values(run: WorkerRun) -> dict[str, Any]:
    """Helm values under which the chart's Deployment runs ``run``."""
    repository, tag = repository_and_tag(run.image)
    return {
        "image": {"repository": repository, "tag": tag},
        "intercom": {"token": run.token},
        "config": dict(run.config),
    }


def podman_argv(run: WorkerRun, name: str) -> list[str]:
    """``podman run`` as the chart runs the pod, on the host network (the broker and the emulator
    listen on 127.0.0.1). runc: crun refuses this machine's hybrid cgroups."""
    argv = ["podman", "--runtime", "runc", "run", "--rm", "--name", name, "--network", "host"]
    argv += [f"--ulimit={limit}" for limit in ULIMITS]
    argv += ["--user", f"{run.uid}:{run.gid}"]
    if run.read_only_root:
        argv.append("--read-only")
    # An emptyDir each, owned by the user as the pod's fsGroup makes it (podman 4.3 ignores mode=).
    for path in run.writable:
        argv += ["--tmpfs", f"{path}:rw,U"]
    argv += [f"--cap-drop={cap}" for cap in run.drop_capabilities]
    if run.no_new_privileges:
        argv += ["--security-opt", "no-new-privileges"]
    # Names only: podman reads the values from its own environment, so the token is not in argv.
    for key in sorted(run.env):
        argv += ["--env", key]
    return [*argv, run.image, *run.args]
