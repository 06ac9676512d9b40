"""The harness of the end-to-end test: a deployment on SQLite or PostgreSQL,
the real ``urne serve`` process on a free loopback port, and the two command
lines (``urne``, ``urne-verify``) run as the installed console scripts.

Everything a failure needs is in its message: a command that exits with an
unexpected code is reported with its arguments, exit code, stdout and stderr,
and a server that dies or never answers ``/healthz`` with its own output. The
server's output is also printed when the deployment is torn down, so pytest
shows it beside any failed test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest

ORIGIN = "e2e.urne.test/log"
#: Seconds a server gets to answer ``/healthz``, and to stop once asked to.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
#: Seconds any one command may run.
COMMAND_TIMEOUT = 60.0


def console_script(name: str) -> str:
    """The installed console script ``name``, beside this interpreter first
    (so a version manager's shim is not in between)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"the console script {name!r} is not installed: pip install -e '.[test]'")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def describe(r: subprocess.CompletedProcess[str]) -> str:
    args = " ".join(str(a) for a in r.args)
    return (
        f"$ {args}\nexit code {r.returncode}\n"
        f"--- stdout ---\n{r.stdout.rstrip()}\n--- stderr ---\n{r.stderr.rstrip()}"
    )


class Server:
    """``urne serve`` in a process of its own; its output goes to a file."""

    def __init__(self, deployment: Deployment, name: str, args: Sequence[str] = ()) -> None:
        self.deployment = deployment
        self.args = list(args)
        self.output_path = deployment.workdir / f"{name}.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> Server:
        for attempt in range(3):
            self.port = free_port()
            env = {**self.deployment.env, "URNE_HOST": "127.0.0.1", "URNE_PORT": str(self.port)}
            with open(self.output_path, "ab") as out:
                out.write(f"=== urne serve on port {self.port} ===\n".encode())
                out.flush()
                self.proc = subprocess.Popen(
                    [console_script("urne"), "serve", *self.args],
                    cwd=self.deployment.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            why = self._wait_healthy()
            if why is None:
                return self
            self.stop(check=False)
            # Another process may have taken the free port in between: try another.
            if "address already in use" in self.output().lower() and attempt < 2:
                continue
            pytest.fail(f"urne serve on {self.url} {why}\n--- its output ---\n{self.output()}")
        raise AssertionError("unreachable")

    def _wait_healthy(self) -> str | None:
        """``None`` once ``GET /healthz`` answers ``{"status": "ok"}``, else why not."""
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with code {self.proc.returncode} before answering GET /healthz"
            try:
                r = httpx2.get(f"{self.url}/healthz", timeout=2.0)
            except httpx2.TransportError:
                time.sleep(0.1)
                continue
            if r.status_code == 200 and r.json() == {"status": "ok"}:
                return None
            return f"answered GET /healthz with {r.status_code} {r.text!r}"
        return f"did not answer GET /healthz within {START_TIMEOUT:.0f} s"

    def assert_running(self) -> None:
        assert self.proc is not None, "the server was never started"
        if self.proc.poll() is not None:
            pytest.fail(
                f"urne serve exited with code {self.proc.returncode}\n"
                f"--- its output ---\n{self.output()}"
            )

    def stop(self, *, check: bool = True) -> int | None:
        """Ask the server to stop (SIGTERM: uvicorn shuts down gracefully and
        the log is closed); kill it if it does not within ``STOP_TIMEOUT``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                if check:
                    pytest.fail(
                        f"urne serve did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM\n"
                        f"--- its output ---\n{self.output()}"
                    )
        return proc.returncode


class Deployment:
    """One operator's installation: a database, a key directory, an origin,
    and the ``URNE_*`` environment every command and server of it runs with."""

    def __init__(
        self, engine: str, database_url: str, workdir: Path, issuance_database_url: str
    ) -> None:
        self.engine = engine
        self.database_url = database_url
        self.issuance_database_url = issuance_database_url
        self.workdir = workdir
        self.key_dir = workdir / "keys"
        base = {k: v for k, v in os.environ.items() if not k.startswith("URNE_")}
        self.env = {
            **base,
            "URNE_DATABASE_URL": database_url,
            "URNE_ISSUANCE_DATABASE_URL": issuance_database_url,
            "URNE_KEY_DIR": str(self.key_dir),
            "URNE_ORIGIN": ORIGIN,
            "PYTHONUNBUFFERED": "1",
        }
        self.servers: list[Server] = []

    def run(
        self, script: str, *args: str | Path, expect: int | Sequence[int] | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """Run a console script in the deployment's directory and environment;
        fail with everything it printed unless it exits with ``expect``
        (``None``: any code)."""
        cmd = [console_script(script), *(str(a) for a in args)]
        try:
            r = subprocess.run(
                cmd,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"$ {' '.join(cmd)}\ndid not finish within {COMMAND_TIMEOUT:.0f} s: {exc}")
        wanted = (expect,) if isinstance(expect, int) else expect
        if wanted is not None and r.returncode not in wanted:
            pytest.fail(f"unexpected exit code (wanted {expect})\n{describe(r)}")
        return r

    def urne(self, *args: str | Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return self.run("urne", *args, expect=expect)

    def verify(self, *args: str | Path, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return self.run("urne-verify", *args, expect=expect)

    def serve(self, *args: str) -> Server:
        """``urne serve`` with ``args`` (``--role issuance``, ...), started."""
        server = Server(self, f"server-{len(self.servers) + 1}", args)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.stop(check=False)
            text = server.output()
            if text:
                print(f"--- output of urne serve ({server.output_path.name}) ---\n{text}")


class Laps:
    """How long each step took, printed (pytest shows it beside a failure)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()

    def __call__(self, step: str) -> None:
        now = time.monotonic()
        print(f"{step}: {now - self.last:.1f} s (total {now - self.start:.1f} s)")
        self.last = now


def expect(r: httpx2.Response, status: int, code: str | None = None) -> Any:
    """The JSON answer, after checking its status (and its error code)."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    if code is not None:
        assert body["error"]["code"] == code, body
        assert body["error"]["message"], body
    return body
