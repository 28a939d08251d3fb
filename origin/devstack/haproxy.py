"""Render infra/haproxy/haproxy.cfg.template for N local origin instances, and run haproxy.

`python -m origin.devstack.haproxy --port 8000 --backends 8001,8002 --out cfg` (scripts/run)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from origin.settings import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra/haproxy/haproxy.cfg.template"


@dataclass(frozen=True)
class Timeouts:
    """The proxy's timeouts, in ms: short, so a hung instance costs little before a retry."""

    search: int = 1_000
    write: int = 30_000
    check: int = 400
    check_interval: int = 300


def render(
    port: int, backends: Sequence[int], host: str = "127.0.0.1", timeouts: Timeouts = Timeouts()
) -> str:
    """The configuration text: a frontend on host:port, one server per backend port."""
    if not backends:
        raise ValueError("at least one backend port")
    servers = "\n".join(f"    server origin{i} {host}:{p}" for i, p in enumerate(backends, 1))
    return Template(TEMPLATE.read_text()).substitute(
        bind=f"{host}:{port}",
        servers=servers,
        search_timeout_ms=timeouts.search,
        write_timeout_ms=timeouts.write,
        check_timeout_ms=timeouts.check,
        check_interval_ms=timeouts.check_interval,
    )


def haproxy_binary() -> str:
    """Debian puts haproxy in /usr/sbin (scripts/setup installs it)."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("haproxy is not installed: run scripts/setup")
    return found


def check(config: Path) -> None:
    """`haproxy -c`: raises with haproxy's message when the configuration is invalid."""
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [haproxy_binary(), "-c", "-q", "-f", str(config)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ValueError(f"invalid haproxy configuration: {result.stdout}{result.stderr}")


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """haproxy in the foreground (-db), its messages in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 (our own arguments)
            [haproxy_binary(), "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="where haproxy listens")
    parser.add_argument("--backends", required=True, help="comma-separated origin ports")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--out", type=Path, required=True, help="the configuration file")
    args = parser.parse_args(argv)
    backends = [int(p) for p in args.backends.split(",")]
    args.out.write_text(render(args.port, backends, args.host))
    check(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
