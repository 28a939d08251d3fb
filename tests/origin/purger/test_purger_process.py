"""A real `vsearch purger` process: killed with SIGKILL in the middle of a batch and restarted,
every purge still completes; on SIGTERM it finishes and acknowledges the batch in hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from servers import ROOT
from write_db import fetch, pending_count, wait_done

EDGE_TOKEN = "slow-edge-token"


class SlowEdge:
    """A stand-in for the local edge's admin path that holds requests while `hold` is set."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.bodies: list[dict[str, list[str]]] = []
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                assert self.headers["authorization"] == f"Bearer {EDGE_TOKEN}"
                if edge.hold.is_set():
                    edge.arrived.set()
                    edge.release.wait(20)
                else:
                    edge.bodies.append(body)
                payload = b'{"purged_keys": []}'
                try:
                    self.send_response(200)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the purger was killed while we held its request
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def edge() -> Iterator[SlowEdge]:
    server = SlowEdge()
    yield server
    server.close()


@pytest.fixture
def db(write_database_url: str) -> str:
    fetch(write_database_url, "UPDATE purge_outbox SET done_at = now() WHERE done_at IS NULL")
    fetch(write_database_url, "UPDATE purge_coarse_tags SET due_at = NULL")
    return write_database_url


def start_purger(db: str, edge: SlowEdge, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "DATABASE_URL": db, "VSEARCH_EDGE_ADMIN_URL": edge.url,
        "VSEARCH_EDGE_ADMIN_TOKEN": EDGE_TOKEN, "VSEARCH_PURGER_LEASE_S": "1.5",
        "VSEARCH_PURGER_POLL_S": "0.2",
    }  # fmt: skip
    for name in ("REDIS_URL", "CLOUDFLARE_API_TOKEN"):
        env.pop(name, None)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "purger"], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def add_events(db: str, n: int) -> list[int]:
    rows = fetch(
        db,
        """WITH e AS (INSERT INTO purge_outbox (tags, reason)
               SELECT ARRAY['v:' || (2000000 + i)], 'manual' FROM generate_series(1, $1) AS i
               RETURNING id) SELECT id FROM e ORDER BY id""",
        n,
    )
    return [int(r["id"]) for r in rows]


def test_a_purger_killed_mid_batch_loses_nothing(db: str, edge: SlowEdge, tmp_path: Path) -> None:
    events = add_events(db, 5)
    edge.hold.set()
    first = start_purger(db, edge, tmp_path / "purger.log")
    try:
        assert edge.arrived.wait(30), (tmp_path / "purger.log").read_text()
        first.send_signal(signal.SIGKILL)  # the batch is in hand: claimed, not acknowledged
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert pending_count(db) == 5
    edge.hold.clear()
    second = start_purger(db, edge, tmp_path / "purger.log")
    try:
        lag = wait_done(db, events, timeout_s=20)  # after the dead purger's lease expires
    finally:
        second.terminate()
        assert second.wait(10) == 0
    purged = sorted(t for body in edge.bodies for t in body["tags"])
    assert purged == sorted(f"v:{2000000 + i}" for i in range(1, 6))
    print(f"\npurge lag across a SIGKILL and a 1.5 s lease: {lag:.2f} s")


def test_sigterm_finishes_and_acknowledges_the_batch_in_hand(
    db: str, edge: SlowEdge, tmp_path: Path
) -> None:
    events = add_events(db, 3)
    edge.hold.set()
    purger = start_purger(db, edge, tmp_path / "purger.log")
    try:
        assert edge.arrived.wait(30), (tmp_path / "purger.log").read_text()
        purger.send_signal(signal.SIGTERM)
        threading.Timer(0.5, edge.release.set).start()  # the tier answers after the signal
        assert purger.wait(15) == 0
    finally:
        if purger.poll() is None:
            purger.kill()
    rows = fetch(db, "SELECT done_at FROM purge_outbox WHERE id = ANY($1)", events)
    assert all(r["done_at"] is not None for r in rows)
