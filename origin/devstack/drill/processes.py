"""Local processes the drill starts, kills and restarts on fixed loopback ports: origins
(`vsearch serve`), redis-server and haproxy. The tests start them through here too."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from origin.bench.procs import free_port
from origin.bench.procs import stop as stop_process
from origin.devstack import haproxy
from origin.settings import REPO_ROOT

ROOT = REPO_ROOT
__all__ = ["ROOT", "Haproxy", "OriginProcess", "RedisProcess", "free_port", "ready"]


class OriginProcess:
    """`vsearch serve` on a free port against the given database; stopped with SIGTERM, or
    killed and restarted on the same port (haproxy's backend list names it)."""

    def __init__(self, database_url: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"origin-{self.port}.log"
        self.env = {
            **os.environ, "DATABASE_URL": database_url, "VSEARCH_HOST": "127.0.0.1",
            "VSEARCH_PORT": str(self.port), **env,
        }  # fmt: skip
        self.start()

    def start(self) -> None:
        self._log_file = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "serve"], cwd=ROOT, env=self.env,
            stdout=self._log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()

    def restart(self) -> None:
        """After a kill -9: reap the dead process, start again on the same port."""
        self.process.wait(10)
        self._log_file.close()
        self.start()

    def _wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ready(self.url, timeout_s=1.0):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"origin did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        stop_process(self.process, timeout_s=30)
        self._log_file.close()


class RedisProcess:
    """A real `redis-server` on loopback, no persistence; restartable on the same port."""

    def __init__(self, work_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.work_dir = work_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/setup")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.work_dir)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class Haproxy:
    """haproxy from the project's template in front of the given origin ports."""

    def __init__(self, ports: list[int], work_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = work_dir / "haproxy.cfg"
        config.write_text(haproxy.render(self.port, ports))
        self.process = haproxy.start(config, work_dir / "haproxy.log")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def ready(url: str, redis: bool = False, timeout_s: float = 0.5) -> bool:
    """The instance answers /readyz 200 (and, with `redis`, its Redis is back)."""
    try:
        response = httpx.get(f"{url}/readyz", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and (not redis or response.json()["checks"]["redis"] == "ok")
