"""Runs a Lambda function with a custom runtime (provided.al2023 / provided.al2) as a child
process of LocalStack, on the host, instead of in a Docker container.

One `HostRuntimeExecutor` is one execution environment: a loopback HTTP server that speaks
the Lambda Runtime API (`/2018-06-01/runtime/...`) and the function's `bootstrap`, started
with `AWS_LAMBDA_RUNTIME_API` pointing at that server. LocalStack calls `invoke()` for each
invocation; the payload is handed to the bootstrap's pending `GET .../invocation/next`, and
the bootstrap's `POST .../response` or `.../error` becomes the `InvocationResult`.

Behaviour that mirrors Lambda:
- the environment counts as started once the bootstrap asks for its first invocation; an
  init error or an exit before that fails the start (LocalStack reports it as such);
- the function timeout is enforced: the process is killed, the invocation fails with
  `Sandbox.Timedout`, and the next invocation starts a fresh process (a "reset");
- a process that dies during an invocation fails it with `Runtime.ExitError`;
- stopping the environment kills the process and closes the server.
Not mirrored: isolation (the function runs as LocalStack's user, on the host's
architecture), memory limits, and `/tmp` sizing (each environment gets a private TMPDIR).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from customs_lambda_executor.runtime_api import RuntimeApiServer

LOG = logging.getLogger(__name__)

# Seconds to wait for the bootstrap's first `next` (LocalStack's own startup timer, by
# default LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT, may stop us sooner).
INIT_TIMEOUT = float(os.environ.get("CUSTOMS_EXECUTOR_INIT_TIMEOUT", "60"))
LOG_LIMIT = 1 << 20  # characters of process output kept per environment


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    function_arn: str
    trace_id: str
    deadline_ms: int
    result: Future


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._server: RuntimeApiServer | None = None
        self._proc: subprocess.Popen | None = None
        self._env: dict[str, str] = {}
        self._tmp: Path | None = None
        self._invocations: queue.Queue[Invocation] = queue.Queue()
        self._current: Invocation | None = None
        self._ready = threading.Event()
        self._init_error: bytes | None = None
        self._stopped = False
        self._log: list[str] = []
        self._log_size = 0
        self._log_total = 0  # lines ever appended; the first kept one is _log_total - len(_log)
        self._generation = 0  # one per bootstrap process started
        self._log_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self, env_vars: dict[str, str]) -> None:
        runtime = self.function_version.config.runtime or ""
        if not runtime.startswith("provided"):
            raise LambdaRuntimeException(
                f"the host executor runs custom runtimes (provided.*) only, not {runtime or 'container images'}"
            )
        code = self._code_dir()
        bootstrap = code / "bootstrap"
        if not bootstrap.is_file():
            raise LambdaRuntimeException(f"the function's code has no bootstrap at its root ({code})")
        bootstrap.chmod(bootstrap.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

        self._tmp = Path(tempfile.mkdtemp(prefix=f"lambda-{self.id[:8]}-"))
        self._server = RuntimeApiServer(self)
        self._server.start()
        env = {k: str(v) for k, v in env_vars.items()}
        env.update(
            AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self._server.port}",
            LAMBDA_TASK_ROOT=str(code),
            LAMBDA_RUNTIME_DIR=str(code),
            PATH=os.environ.get("CUSTOMS_EXECUTOR_PATH", "/usr/local/bin:/usr/bin:/bin"),
            HOME=str(self._tmp),
            TMPDIR=str(self._tmp),
            LANG="C.UTF-8",
        )
        self._env = env
        self._spawn()

    def _code_dir(self) -> Path:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("container-image functions are not supported by the host executor")
        return Path(code.get_unzipped_code_location())

    def _spawn(self) -> None:
        """Start the bootstrap and wait until it asks for work (or fails to)."""
        self._ready.clear()
        self._init_error = None
        self._generation += 1
        self._proc = subprocess.Popen(
            [str(self._code_dir() / "bootstrap")],
            cwd=str(self._code_dir()),
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Stays in LocalStack's process group, so stopping LocalStack's group (as
            # localstack.sh does) also ends every function process, even after a crash.
        )
        threading.Thread(target=self._pump_output, args=(self._proc,), daemon=True, name=f"lambda-out-{self.id[:8]}").start()
        deadline = time.monotonic() + INIT_TIMEOUT
        while not self._ready.wait(0.05):
            if self._stopped:
                raise LambdaRuntimeException("execution environment stopped during init")
            if self._init_error is not None:
                self._kill()
                raise LambdaRuntimeException(f"init error: {self._init_error.decode(errors='replace')}")
            if self._proc.poll() is not None:
                raise LambdaRuntimeException(
                    f"bootstrap exited with status {self._proc.returncode} during init; output:\n{self.get_logs()[-4000:]}"
                )
            if time.monotonic() > deadline:
                self._kill()
                raise LambdaRuntimeException(f"bootstrap did not ask for an invocation within {INIT_TIMEOUT:.0f} s")

    def _pump_output(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            with self._log_lock:
                self._log.append(line)
                self._log_size += len(line)
                self._log_total += 1
                while self._log_size > LOG_LIMIT and len(self._log) > 1:
                    self._log_size -= len(self._log.pop(0))

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("bootstrap of %s (pid %s) did not exit after SIGKILL", self.id, proc.pid)

    def stop(self) -> None:
        self._stopped = True
        self._kill()
        current = self._current
        if current is not None:
            try:
                current.result.set_result((True, _error_payload("Runtime.ExitError", "execution environment stopped")))
            except InvalidStateError:
                pass
        if self._server is not None:
            self._server.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # ------------------------------------------------------------------ invocations
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        if self._proc is None or self._proc.poll() is not None:
            LOG.debug("bootstrap of %s is not running; starting a fresh one", self.id)
            self._spawn()
        with self._log_lock:
            mark = self._log_total
        timeout = float(self.function_version.config.timeout)
        inv = Invocation(
            request_id=request_id,
            payload=(payload.get("payload") or "").encode(),
            function_arn=payload.get("invoked-function-arn", self.function_version.qualified_arn),
            trace_id=payload.get("trace-id", ""),
            deadline_ms=int((time.time() + timeout) * 1000),
            result=Future(),
        )
        self._current = inv
        self._invocations.put(inv)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    is_error, body = inv.result.result(timeout=0.1)
                    break
                except FutureTimeout:
                    pass
                failure = None
                if time.monotonic() > deadline:
                    self._kill()
                    failure = _error_payload("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
                elif self._proc.poll() is not None:
                    failure = _error_payload(
                        "Runtime.ExitError", f"Runtime exited with status {self._proc.returncode} during the invocation"
                    )
                if failure is not None:
                    try:
                        inv.result.set_result((True, failure))
                    except InvalidStateError:
                        pass  # the answer arrived at the same moment: keep it
                    is_error, body = inv.result.result()
                    break
        finally:
            self._current = None
        logs = self._logs_since(mark)
        return InvocationResult(request_id=request_id, payload=body, is_error=is_error, logs=logs)

    def _logs_since(self, mark: int) -> str:
        time.sleep(0.05)  # let the output pump catch the last lines
        with self._log_lock:
            first_kept = self._log_total - len(self._log)
            return "".join(self._log[max(mark - first_kept, 0):])

    # called by the Runtime API server --------------------------------------------------
    def next_invocation(self) -> Invocation | None:
        """Blocks until there is work for the bootstrap that asked. A request still pending
        from a killed process returns None instead of swallowing the next invocation."""
        generation = self._generation
        self._ready.set()
        while not self._stopped and generation == self._generation:
            try:
                inv = self._invocations.get(timeout=0.5)
            except queue.Empty:
                continue
            if inv.result.done():
                continue  # timed out or failed before the bootstrap asked for it
            if generation != self._generation or self._proc is None or self._proc.poll() is not None:
                self._invocations.put(inv)
                return None
            return inv
        return None

    def requeue(self, inv: Invocation) -> None:
        """The bootstrap's connection broke before it got `inv`: offer it again."""
        if not inv.result.done():
            self._invocations.put(inv)

    def complete(self, request_id: str, is_error: bool, body: bytes) -> bool:
        current = self._current
        if current is None or current.request_id != request_id:
            return False
        try:
            current.result.set_result((is_error, body))
        except InvalidStateError:
            return False  # already timed out
        return True

    def init_failed(self, body: bytes) -> None:
        self._init_error = body or b"{}"

    # ------------------------------------------------------------------ addresses, logs
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        # The function runs on the host, where LocalStack's gateway listens on loopback.
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = self._server.port if self._server else 0
        return f"http://127.0.0.1:{port}/2018-06-01"

    def get_logs(self) -> str:
        with self._log_lock:
            return "".join(self._log)

    # ------------------------------------------------------------------ versions
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Unzip the code once per version; unlike the Docker executor, nothing to download.
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True
