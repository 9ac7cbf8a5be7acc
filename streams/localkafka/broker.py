"""A real, throw-away Apache Kafka 4.x broker (KRaft, combined broker+controller) on 127.0.0.1.

Used by the integration tests and by ``intercom-stream broker``. Everything lives in a fresh temp
directory (config, log4j2 config, data, ``server.log``) that :meth:`LocalKafka.stop` removes.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

from streams.errors import BrokerError
from streams.localkafka.fetch import ensure_kafka_jars, find_java

_T = TypeVar("_T")

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
STARTED_LINE = "Kafka Server started"
_TAIL_LINES = 40
_FORMAT_TIMEOUT_S = 60.0
_PORT_RETRIES = 3

# Modest and fast to start on a 2-core CI box: a small serial-GC heap, C1 only (the JIT's C2 tier
# costs seconds of CPU at start-up and tests never run long enough to profit), class-data sharing,
# no hsperfdata file in /tmp.
DEFAULT_JVM_OPTIONS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)

_LOG4J2 = """\
# Written by streams.localkafka: the broker logs to a file, never to our stdout.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
# Kafka's own noisy-but-useless loggers, as in its shipped config.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


def _free_ports(n: int) -> list[int]:
    # Hold all sockets open until every port is chosen, so the ports are distinct. Another process
    # may still grab one before the JVM binds; start() retries with fresh ports in that case.
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _cluster_id() -> str:
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding (what
    # `kafka-storage.sh random-uuid` prints), so we save a JVM start by making it here.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _errors(path: Path, limit: int = 12) -> str:
    """ERROR/FATAL log lines plus the exception message under each: the cause of a failed start is
    usually the first of them, long before the tail, which is filled by the shutdown that follows."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    picked: list[str] = []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            picked.append(line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt and not nxt.startswith(("[", "\tat ")):
                picked.append("    " + nxt)
        if len(picked) >= limit:
            break
    return "\n".join(picked)


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even if the caller is inside an event loop."""
    # asyncio.run() refuses to nest, and start() is called from async fixtures too: use a thread.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="localkafka-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _probe(bootstrap: str, timeout_s: float) -> int:
    """Ask the broker for cluster metadata; return how many brokers it reports."""
    from aiokafka.admin import AIOKafkaAdminClient

    timeout_ms = max(1000, int(timeout_s * 1000))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return len(cluster.get("brokers", []))
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


@dataclass(frozen=True)
class SaslSslConfig:
    """A second listener, ``SASL_SSL://127.0.0.1:PORT``, next to the PLAINTEXT one (which stays the
    inter-broker listener and the one :attr:`LocalKafka.bootstrap` names).

    ``users`` (name → password) get SCRAM credentials for each of ``mechanisms`` at storage format
    time, with Kafka's own tooling (``kafka-storage format --add-scram``). The broker's key and
    certificate are PEM files (``ssl.keystore.type=PEM``); ``client_cafile`` with
    ``client_auth="required"`` makes it demand client certificates (mutual TLS) signed by that CA.
    """

    certfile: Path
    keyfile: Path
    users: Mapping[str, str] = field(default_factory=dict)
    mechanisms: tuple[str, ...] = ("SCRAM-SHA-512",)
    client_cafile: Path | None = None
    client_auth: str = "none"
    port: int | None = None

    def listener_properties(self, port: int) -> dict[str, str]:
        prefix = "listener.name.sasl_ssl."
        props = {
            f"{prefix}sasl.enabled.mechanisms": ",".join(self.mechanisms),
            f"{prefix}ssl.keystore.type": "PEM",
            f"{prefix}ssl.keystore.certificate.chain": _pem_value(self.certfile),
            f"{prefix}ssl.keystore.key": _pem_value(self.keyfile),
            f"{prefix}ssl.client.auth": self.client_auth,
        }
        for mechanism in self.mechanisms:
            props[f"{prefix}{mechanism.lower()}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        if self.client_cafile is not None:
            props[f"{prefix}ssl.truststore.type"] = "PEM"
            props[f"{prefix}ssl.truststore.certificates"] = _pem_value(self.client_cafile)
        return props

    def scram_arguments(self) -> list[str]:
        args: list[str] = []
        for mechanism in self.mechanisms:
            for name, password in self.users.items():
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args


def _pem_value(path: Path) -> str:
    # A properties-file value on one line: Java's Properties turns each "\n" back into a newline.
    return "\\n".join(Path(path).read_text().strip().splitlines())


class LocalKafka:
    """A single-node Kafka 4.x (KRaft) on 127.0.0.1, in its own temp dir and process group.

    ``with LocalKafka() as kafka: kafka.bootstrap`` or explicit :meth:`start` / :meth:`stop`.
    ``extra_properties`` are written last into ``server.properties`` and so win over ours.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        auto_create_topics: bool = False,
        extra_properties: Mapping[str, str] | None = None,
        jvm_options: Sequence[str] = DEFAULT_JVM_OPTIONS,
        cache_dir: Path | None = None,
        start_timeout: float = START_TIMEOUT_S,
        stop_timeout: float = STOP_TIMEOUT_S,
        sasl_ssl: SaslSslConfig | None = None,
    ) -> None:
        self.sasl_ssl = sasl_ssl
        self.sasl_ssl_port: int | None = None
        self._fixed_port = port
        self._fixed_controller_port = controller_port
        self.auto_create_topics = auto_create_topics
        self.extra_properties: dict[str, str] = dict(extra_properties or {})
        self.jvm_options = list(jvm_options)
        self._cache_dir = cache_dir
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port: int | None = None
        self.controller_port: int | None = None
        self.data_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # -- public API -------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the PLAINTEXT listener; only valid while started."""
        if self.port is None or not self.is_running():
            raise BrokerError("LocalKafka is not running: call start() or use it as a context manager")
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the SASL_SSL listener (when configured); only valid while started."""
        if self.sasl_ssl is None or self.sasl_ssl_port is None:
            raise BrokerError("LocalKafka has no SASL_SSL listener: pass sasl_ssl=SaslSslConfig(...)")
        self.bootstrap  # noqa: B018 - raises when not running
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self.data_dir / "server.log" if self.data_dir else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # What streams.watchdog needs to watch the broker while others wait on it.
    name = "Kafka broker"

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def log_text(self) -> str:
        """The JVM's own output (crashes land there), else server.log."""
        if self.data_dir is None:
            return ""
        for name in ("stdout.log", "server.log"):
            with contextlib.suppress(OSError):
                text = (self.data_dir / name).read_text(errors="replace")
                if text.strip():
                    return text
        return ""

    def start(self) -> LocalKafka:
        """Start the broker and block until it serves metadata requests (or raise BrokerError)."""
        with self._lock:
            if self.is_running():
                return self
            libs = ensure_kafka_jars(self._cache_dir)
            java = find_java()
            began = time.monotonic()
            # Random ports can be stolen between our probe and the JVM's bind: retry on that only.
            attempts = 1 if self._fixed_port or self._fixed_controller_port else _PORT_RETRIES
            for attempt in range(1, attempts + 1):
                try:
                    self._start_once(java, libs)
                    break
                except _PortInUse as exc:
                    if attempt == attempts:
                        raise BrokerError(str(exc)) from None
            self.startup_seconds = time.monotonic() - began
            return self

    def stop(self) -> None:
        """SIGTERM our JVM (only ours, by PID), SIGKILL it after ``stop_timeout``, remove the data dir."""
        with self._lock:
            self._stop_process()
            self._remove_data_dir()
            with contextlib.suppress(Exception):
                atexit.unregister(self._atexit_cleanup)

    def restart(self, downtime_s: float = 0.0) -> LocalKafka:
        """Stop the broker (SIGTERM), stay down ``downtime_s`` seconds, start it again on the same
        ports with the same log dir: topics, records and committed offsets survive, as in a real
        broker restart. Blocks until it serves again (or raises BrokerError)."""
        with self._lock:
            if self.data_dir is None or self.port is None:
                raise BrokerError("LocalKafka is not started: nothing to restart")
            self._stop_process()
            time.sleep(downtime_s)
            log = self.data_dir / "server.log"
            seen = log.stat().st_size if log.exists() else 0
            try:
                self._launch(self._java_command(find_java(), ensure_kafka_jars(self._cache_dir)),
                             self.data_dir / "server.properties")  # fmt: skip
                self._wait_ready(log_from=seen)  # the first start's "started" line does not count
            except BaseException:
                self._stop_process()
                self._remove_data_dir()
                raise
            return self

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running pid={self.pid} port={self.port}" if self.is_running() else "stopped"
        return f"<LocalKafka {state}>"

    # -- internals --------------------------------------------------------------------------------

    def _start_once(self, java: str, libs: Path) -> None:
        if self._fixed_port and self._fixed_controller_port:
            self.port, self.controller_port = self._fixed_port, self._fixed_controller_port
        else:
            free = _free_ports(2)
            self.port = self._fixed_port or free[0]
            self.controller_port = self._fixed_controller_port or next(p for p in free if p != self.port)
        if self.sasl_ssl is not None:
            taken = {self.port, self.controller_port}
            self.sasl_ssl_port = self.sasl_ssl.port or next(p for p in _free_ports(3) if p not in taken)
        self.data_dir = Path(tempfile.mkdtemp(prefix="intercom-stream-kafka-"))
        atexit.register(self._atexit_cleanup)
        try:
            props = self.data_dir / "server.properties"
            props.write_text(self._server_properties())
            (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log=self.data_dir / "server.log"))
            base = self._java_command(java, libs)
            self._format_storage(base, props)
            self._launch(base, props)
            self._wait_ready()
        except BaseException:
            # Also on KeyboardInterrupt: never leave a half-started JVM or its temp dir behind.
            self._stop_process()
            self._remove_data_dir()
            raise

    def _java_command(self, java: str, libs: Path) -> list[str]:
        assert self.data_dir is not None
        log4j = self.data_dir / "log4j2.properties"
        return [java, *self.jvm_options, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]

    def _server_properties(self) -> str:
        assert self.data_dir is not None
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # Kafka 4.x dynamic quorum: the storage is formatted with --standalone, see below.
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.data_dir / "kraft-logs"),
            "auto.create.topics.enable": "true" if self.auto_create_topics else "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            # Internal topics: one replica (single node) and one partition each instead of 50,
            # which makes the first consumer group / transaction / share group seconds faster.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Few threads and a small log-cleaner buffer (default 128 MiB of heap) for a small box.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(4 * 1024 * 1024),
            "log.segment.bytes": str(16 * 1024 * 1024),
            "log.retention.hours": "24",
        }
        if self.sasl_ssl is not None:
            listener = f"SASL_SSL://127.0.0.1:{self.sasl_ssl_port}"
            props["listeners"] += f",{listener}"
            props["advertised.listeners"] += f",{listener}"
            props["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            props["sasl.enabled.mechanisms"] = ",".join(self.sasl_ssl.mechanisms)
            props.update(self.sasl_ssl.listener_properties(self.sasl_ssl_port or 0))
        props.update(self.extra_properties)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _format_storage(self, base: list[str], props: Path) -> None:
        # Kafka 4.1: `kafka-storage.sh format` is kafka.tools.StorageTool; --standalone makes this
        # node the sole voter of a dynamic (KIP-853) quorum and writes the voter set checkpoint.
        argv = [*base, "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}", "-c", str(props)]
        argv.append("--standalone")
        if self.sasl_ssl is not None:
            argv += self.sasl_ssl.scram_arguments()
        try:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=_FORMAT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(f"formatting Kafka storage took over {_FORMAT_TIMEOUT_S:.0f}s") from exc
        if result.returncode != 0:
            out = "\n".join((result.stdout or "").strip().splitlines()[-_TAIL_LINES:])
            raise BrokerError(f"formatting Kafka storage failed (exit code {result.returncode}):\n{out}")

    def _launch(self, base: list[str], props: Path) -> None:
        assert self.data_dir is not None
        # JVM crashes and option errors bypass log4j: keep them in a file too, not on our stdout.
        with open(self.data_dir / "stdout.log", "ab") as out:
            self._proc = subprocess.Popen(
                [*base, f"-Dkafka.logs.dir={self.data_dir}", "kafka.Kafka", str(props)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                # Own session/process group: a Ctrl-C in the terminal reaches us, not the JVM, so
                # shutdown order stays ours (we SIGTERM it from stop()).
                start_new_session=True,
            )

    def _failure(self, what: str) -> str:
        assert self.data_dir is not None
        parts = [what]
        errors = _errors(self.data_dir / "server.log")
        if errors:
            parts.append(f"--- errors in the broker's server.log ---\n{errors}")
        for name in ("server.log", "stdout.log"):
            tail = _tail(self.data_dir / name)
            if tail:
                parts.append(f"--- last lines of the broker's {name} ---\n{tail}")
        return "\n".join(parts)

    def _wait_ready(self, log_from: int = 0) -> None:
        assert self._proc is not None and self.data_dir is not None
        deadline = time.monotonic() + self.start_timeout
        log = self.data_dir / "server.log"
        while True:
            code = self._proc.poll()
            if code is not None:
                msg = self._failure(f"Kafka broker exited during start-up with code {code}")
                if "Address already in use" in msg or "BindException" in msg:
                    raise _PortInUse(msg)
                raise BrokerError(msg)
            # The log line is cheap to poll; the client probe below proves it really serves.
            with contextlib.suppress(OSError):
                if STARTED_LINE.encode() in log.read_bytes()[log_from:]:
                    break
            if time.monotonic() > deadline:
                raise BrokerError(
                    self._failure(f"Kafka broker did not start within {self.start_timeout:.0f}s")
                )
            time.sleep(0.05)
        bootstrap = f"127.0.0.1:{self.port}"
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                if _run_coroutine(lambda: _probe(bootstrap, 5.0)) >= 1:
                    return
            except Exception as exc:
                last_error = exc
            time.sleep(0.1)
        raise BrokerError(
            self._failure(
                f"Kafka broker logged '{STARTED_LINE}' but {bootstrap} did not answer: {last_error!r}"
            )
        )

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # Kafka shuts down cleanly on SIGTERM
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(10)

    def _remove_data_dir(self) -> None:
        data_dir, self.data_dir = self.data_dir, None
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)

    def _atexit_cleanup(self) -> None:
        # Last line of defence when a test run dies with the broker still up; be quick about it.
        self.stop_timeout = min(self.stop_timeout, 5.0)
        self._stop_process()
        self._remove_data_dir()


class _PortInUse(Exception):
    pass


def run_broker(port: int | None = None) -> None:
    """Blocking entry point of ``intercom-stream broker``: serve until SIGINT/SIGTERM, then stop."""
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    kafka = LocalKafka(port=port)
    try:
        kafka.start()
        print(f"Kafka broker ready at {kafka.bootstrap}", flush=True)
        while not stop_requested.wait(0.5):
            code = kafka.returncode
            if code is not None:
                log = kafka.log_path
                tail = _tail(log) if log else ""
                raise BrokerError(f"Kafka broker exited unexpectedly with code {code}\n{tail}")
        print("Stopping Kafka broker...", file=sys.stderr, flush=True)
    finally:
        kafka.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
