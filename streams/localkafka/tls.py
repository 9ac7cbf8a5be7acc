"""Throw-away TLS material for a SASL_SSL LocalKafka, made with the ``openssl`` command.

:func:`make_test_certificates` writes a CA, a broker certificate for ``localhost`` / ``127.0.0.1``
(so clients can keep hostname verification on) and a client certificate (mutual TLS), all PEM,
keys unencrypted PKCS#8 (what Kafka's ``ssl.keystore.type=PEM`` reads).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.errors import BrokerError

_DAYS = "2"


@dataclass(frozen=True)
class TestCertificates:
    """Paths of the PEM files written by :func:`make_test_certificates`."""

    __test__ = False  # not a pytest test class

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise BrokerError("the openssl command is needed to make test certificates")
    result = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if result.returncode != 0:
        raise BrokerError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def _signed(directory: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (directory / f"{name}{s}" for s in (".key", ".csr", ".crt", ".ext"))
    ext.write_text(extensions)
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key.name, "-out", csr.name,
             "-subj", subject, cwd=directory)  # fmt: skip
    _openssl("x509", "-req", "-in", csr.name, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", cert.name, "-days", _DAYS, "-sha256", "-extfile", ext.name, cwd=directory)  # fmt: skip
    csr.unlink()
    ext.unlink()
    return cert, key


def make_test_certificates(directory: Path, host: str = "127.0.0.1") -> TestCertificates:
    """A fresh CA, broker certificate (SAN ``localhost`` and ``host``) and client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", _DAYS, "-sha256", "-subj", "/CN=intercom-stream test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)  # fmt: skip
    san = f"DNS:localhost,IP:{host}" if host.replace(".", "").isdigit() else f"DNS:localhost,DNS:{host}"
    server_cert, server_key = _signed(
        directory, "server", "/CN=localhost",
        f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )  # fmt: skip
    client_cert, client_key = _signed(
        directory, "client", "/CN=intercom-stream-client",
        "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )  # fmt: skip
    return TestCertificates(directory / "ca.crt", server_cert, server_key, client_cert, client_key)
