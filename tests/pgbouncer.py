"""A real `pgbouncer` (Debian package) in transaction mode in front of a test database, as
Supabase's pooler runs: a client's statements outside a transaction may each land on another
server connection, and no prepared statement survives between transactions."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from servers import free_port

from origin.bench.procs import stop as stop_process

_BINARIES = ("pgbouncer", "/usr/sbin/pgbouncer")


def _binary() -> str:
    for name in _BINARIES:
        found = shutil.which(name) or (name if os.access(name, os.X_OK) else None)
        if found:
            return found
    raise RuntimeError("pgbouncer is not installed: run scripts/setup")


def _server_target(dsn: str) -> tuple[str, int, str, str]:
    """host (or Unix socket dir), port, user, database of a PostgreSQL URL."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [str(parts.port or 5432)])[0])
    return host, port, parts.username or "postgres", parts.path.lstrip("/") or "postgres"


class PgBouncerProcess:
    """pgbouncer on a free loopback port (`.url`) pooling one database in transaction mode."""

    def __init__(self, database_url: str, pool_size: int = 4) -> None:
        host, port, user, database = _server_target(database_url)
        # Its own directory under /tmp: pytest's tmp dirs are private to root, and as root
        # pgbouncer runs as another user.
        work_dir = self.work_dir = Path(tempfile.mkdtemp(prefix="vsearch-pgbouncer-"))
        self.port = free_port()
        self.url = f"postgresql://{user}@127.0.0.1:{self.port}/{database}"
        self.log = work_dir / "pgbouncer.log"
        (work_dir / "userlist.txt").write_text(f'"{user}" ""\n')
        (work_dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{database} = host={host} port={port} dbname={database} user={user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {work_dir / 'userlist.txt'}\n"
            # Fewer server connections than the origin's pool, so clients really share them.
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            f"logfile = {self.log}\npidfile = {work_dir / 'pgbouncer.pid'}\n"
        )
        args = [_binary()]
        if os.geteuid() == 0:
            # pgbouncer refuses to run as root; it runs as whoever owns the server's socket
            # directory (the embedded server's is private to its user).
            owner = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else None
            owner = owner if owner and owner != "root" else "nobody"
            shutil.chown(work_dir, owner)
            for path in work_dir.iterdir():
                shutil.chown(path, owner)
            args += ["-u", owner]
        with (work_dir / "stderr.log").open("w") as output:
            self.process = subprocess.Popen(
                [*args, str(work_dir / "pgbouncer.ini")], stdout=output, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        log = (self.work_dir / "stderr.log").read_text()
        log += self.log.read_text() if self.log.exists() else ""
        raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}")

    def stop(self) -> None:
        stop_process(self.process, timeout_s=10)
        shutil.rmtree(self.work_dir, ignore_errors=True)
