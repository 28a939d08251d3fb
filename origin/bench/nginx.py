"""nginx `proxy_cache` keyed by the raw URL, in front of an origin: the load test's comparison.

Renders infra/nginx/proxy_cache.conf.template into its own prefix dir and runs it on loopback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from origin.bench import procs
from origin.bench.procs import free_port
from origin.settings import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra" / "nginx" / "proxy_cache.conf.template"


def find_nginx() -> str | None:
    """The nginx binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").exists():
        found = "/usr/sbin/nginx"
    return found


def render(template: str, *, port: int, upstream: str, prefix: Path) -> str:
    """The config for nginx on 127.0.0.1:`port` caching `upstream` (host:port) under `prefix`."""
    if not upstream.startswith("127.0.0.1:"):
        raise ValueError(f"upstream must be on 127.0.0.1, got {upstream!r}")
    text = template.replace("@PORT@", str(port)).replace("@UPSTREAM@", upstream)
    text = text.replace("@PREFIX@", str(prefix))
    if re.search(r"@[A-Z_]+@", text):
        raise ValueError("unrendered placeholder in the nginx template")
    return text


def start(upstream: str, prefix: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start nginx in front of `upstream` (host:port); answers once it proxies /healthz."""
    binary = find_nginx()
    if binary is None:
        raise RuntimeError("nginx is missing: scripts/setup installs it (apt-get install nginx)")
    port = free_port()
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(TEMPLATE.read_text(), port=port, upstream=upstream, prefix=prefix))
    process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
        [binary, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    # SIGTERM, not SIGKILL: the master then stops its workers (a killed master orphans them).
    procs.stop(process)
    raise RuntimeError(f"nginx did not start; see {prefix / 'error.log'}")
