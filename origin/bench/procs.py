"""Processes a benchmark starts and stops: the origin (`vsearch serve`) and the local edge."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from origin.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_origin(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, VSEARCH_PORT=str(port), VSEARCH_HOST="127.0.0.1", **(extra_env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("origin did not become ready")


def start_edge(origin: str, persist: Path) -> tuple[subprocess.Popen[str], str, dict[str, object]]:
    port = free_port()
    command = [str(REPO_ROOT / "scripts/edge/run"), "--port", str(port), "--origins", origin]
    command += ["--persist", str(persist)]
    process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event.get("event") == "edge_ready":
            return process, f"http://127.0.0.1:{port}", event
    raise RuntimeError("edge host did not start")


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; reaped either way."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
