"""The Lambda Runtime API (2018-06-01) for one execution environment, on a loopback port.

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
  GET  /2018-06-01/runtime/invocation/next            blocks until there is an invocation
  POST /2018-06-01/runtime/invocation/{id}/response   the result
  POST /2018-06-01/runtime/invocation/{id}/error      a handled error
  POST /2018-06-01/runtime/init/error                 the bootstrap could not initialise
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customs_lambda_executor.executor import HostRuntimeExecutor

LOG = logging.getLogger(__name__)
PREFIX = "/2018-06-01/runtime"


class RuntimeApiServer:
    def __init__(self, executor: HostRuntimeExecutor) -> None:
        handler = type("Handler", (_Handler,), {"executor": executor})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name=f"runtime-api-{self.port}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    executor: HostRuntimeExecutor
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime clients expect

    def log_message(self, fmt: str, *args) -> None:  # quiet; LocalStack has its own logging
        LOG.debug("runtime api: " + fmt, *args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND)
            return
        inv = self.executor.next_invocation()
        if inv is None:  # environment stopped or process replaced: hang up
            self.close_connection = True
            self._reply(HTTPStatus.GONE)
            return
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
        }
        if inv.trace_id:
            headers["Lambda-Runtime-Trace-Id"] = inv.trace_id
        try:
            self._reply(HTTPStatus.OK, inv.payload, headers)
        except OSError:
            self.executor.requeue(inv)
            raise

    def do_POST(self) -> None:
        body = self._body()
        parts = self.path[len(PREFIX):].strip("/").split("/") if self.path.startswith(PREFIX) else []
        if parts == ["init", "error"]:
            self.executor.init_failed(body)
            self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}', {"Content-Type": "application/json"})
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if self.executor.complete(parts[1], parts[2] == "error", body):
                self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}', {"Content-Type": "application/json"})
            else:
                self._reply(
                    HTTPStatus.BAD_REQUEST,
                    b'{"errorType":"InvalidRequestID","errorMessage":"no such pending invocation"}',
                    {"Content-Type": "application/json"},
                )
        else:
            self._reply(HTTPStatus.NOT_FOUND)
