"""Basic auth in front of the test registry, as Confluent Cloud asks for it (Apicurio's own auth needs
an OIDC server): answers 401 without the right credentials, forwards everything else unchanged."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        if self.headers.get("Authorization") != self.server.expected:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error_code":401,"message":"Unauthorized"}')
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
        answer = httpx.request(self.command, self.server.upstream + self.path, content=body, headers=headers)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _forward


class _ProxyServer(ThreadingHTTPServer):
    upstream: str
    expected: str


class BasicAuthProxy:
    def __init__(self, upstream_base: str, user: str, password: str) -> None:
        self._server = _ProxyServer(("127.0.0.1", 0), _Handler)
        self._server.upstream = upstream_base
        self._server.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> BasicAuthProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
