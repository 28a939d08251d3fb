"""A local fake of the Cloudflare API endpoints the purger calls (zone purge_cache, Workers KV bulk
delete) for the purge drill: Cloudflare's envelope, its bearer check, every call recorded, and
switchable faults (429 with Retry-After, 5xx) plus a hold that keeps a request in flight."""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "rate_limited", "error"]
PREFIX = "/client/v4"  # the real API's path prefix, so the SDK's base_url is used as a whole
PURGE_PATH = re.compile(rf"^{PREFIX}/zones/([^/]+)/purge_cache$")
KV_PATH = re.compile(rf"^{PREFIX}/accounts/([^/]+)/storage/kv/namespaces/([^/]+)/bulk/delete$")
# Cloudflare's limits: 100 tags a purge request, 10,000 keys a KV bulk delete.
MAX_TAGS, MAX_KEYS = 100, 10_000
# Error codes as Cloudflare answers them (971: the API's rate limit; 10000: authentication).
RATE_LIMITED = {"code": 971, "message": "Please wait and consider throttling your request speed"}
AUTH_ERROR = {"code": 10000, "message": "Authentication error"}


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it; times are time.monotonic() of this process."""

    received_at: float
    operation: str  # purge_tags | purge_everything | kv_delete | invalid
    body: Any
    status: int  # what was answered; 0 = nothing (the caller was gone after a hold)
    answered_at: float
    retry_after_s: int | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class CloudflareFake:
    """`url` is the API base (VSEARCH_CLOUDFLARE_API_URL); `set_mode` switches faults on and off."""

    def __init__(
        self, token: str, zone_id: str, account_id: str, namespace_id: str, host: str = "127.0.0.1"
    ) -> None:
        self.token, self.zone_id = token, zone_id
        self.account_id, self.namespace_id = account_id, namespace_id
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._mode: Mode = "ok"
        self._status, self._retry_after_s = 503, 1
        self._hold_skip: int | None = None  # None: no hold; else calls to let through first
        self.held = threading.Event()  # a request is being held
        self._release = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def set_mode(self, mode: Mode, *, status: int = 503, retry_after_s: int = 1) -> None:
        """ok; rate_limited (429, `Retry-After: retry_after_s`); error (`status`, an HTML body
        as Cloudflare's front answers a 5xx)."""
        with self._lock:
            self._mode, self._status, self._retry_after_s = mode, status, retry_after_s

    def hold_next(self, skip: int = 0) -> None:
        """Let `skip` requests through, then hold the next one until `release()` (`held` is set
        when it arrives): a batch deterministically in the middle of its calls."""
        with self._lock:
            self._hold_skip = skip
            self.held.clear()
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_skip = None
        self._release.set()

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CloudflareFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _must_hold(self) -> bool:
        with self._lock:
            if self._hold_skip is None:
                return False
            if self._hold_skip > 0:
                self._hold_skip -= 1
                return False
            self._hold_skip = None
        self.held.set()
        return True

    def answer(self, path: str, authorization: str | None, raw: bytes) -> _Answer:
        """What Cloudflare would answer this POST (before faults), and which operation it is."""
        purge, kv = PURGE_PATH.match(path), KV_PATH.match(path)
        if purge is None and kv is None:
            return _Answer("invalid", None, 404, _envelope(errors=[{"code": 7000,
                           "message": "No route for that URI"}]))  # fmt: skip
        if authorization != f"Bearer {self.token}":
            return _Answer("invalid", None, 403, _envelope(errors=[AUTH_ERROR]))
        try:
            body = json.loads(raw)
        except ValueError:
            return _Answer("invalid", None, 400, _envelope(errors=[{"code": 6007,
                           "message": "Malformed JSON in request body"}]))  # fmt: skip
        if purge is not None:
            return self._purge(purge.group(1), body)
        assert kv is not None
        return self._kv_delete(kv.group(1), kv.group(2), body)

    def _purge(self, zone_id: str, body: Any) -> _Answer:
        if zone_id != self.zone_id:
            return _Answer("invalid", body, 404, _envelope(errors=[{"code": 1001,
                           "message": "Invalid zone identifier"}]))  # fmt: skip
        if body == {"purge_everything": True}:
            return _Answer("purge_everything", body, 200, _envelope({"id": zone_id}))
        tags = body.get("tags") if isinstance(body, dict) and len(body) == 1 else None
        if not (isinstance(tags, list) and 0 < len(tags) <= MAX_TAGS
                and all(isinstance(t, str) for t in tags)):  # fmt: skip
            return _Answer("invalid", body, 400, _envelope(errors=[{"code": 1012,
                           "message": "Request must contain one of 'purge_everything', "
                           "'files', 'tags', 'hosts' or 'prefixes'"}]))  # fmt: skip
        return _Answer("purge_tags", body, 200, _envelope({"id": zone_id}))

    def _kv_delete(self, account_id: str, namespace_id: str, body: Any) -> _Answer:
        if (account_id, namespace_id) != (self.account_id, self.namespace_id):
            return _Answer("invalid", body, 404, _envelope(errors=[{"code": 10013,
                           "message": "namespace not found"}]))  # fmt: skip
        if not (isinstance(body, list) and len(body) <= MAX_KEYS
                and all(isinstance(k, str) for k in body)):  # fmt: skip
            return _Answer("invalid", body, 400, _envelope(errors=[{"code": 10026,
                           "message": "request body must be an array of keys"}]))  # fmt: skip
        result = {"successful_key_count": len(body), "unsuccessful_keys": []}
        return _Answer("kv_delete", body, 200, _envelope(result))

    def serve(
        self, path: str, authorization: str | None, raw: bytes, connection: socket.socket
    ) -> tuple[int, dict[str, str], bytes] | None:
        """Status, headers and body of the reply to one POST (None: the caller is gone)."""
        received = time.monotonic()
        answer = self.answer(path, authorization, raw)
        if answer.status == 200 and self._must_hold():
            self._release.wait(60)
            if _peer_gone(connection):
                self._record(Call(received, answer.operation, answer.body, 0, time.monotonic()))
                return None
        with self._lock:
            mode, status, retry_after = self._mode, self._status, self._retry_after_s
        headers = {"content-type": "application/json"}
        payload = json.dumps(answer.payload).encode()
        if answer.status == 200 and mode == "rate_limited":
            status, payload = 429, json.dumps(_envelope(errors=[RATE_LIMITED])).encode()
            headers["retry-after"] = str(retry_after)
        elif answer.status == 200 and mode == "error":
            headers["content-type"] = "text/html"
            payload = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
        else:
            status = answer.status
        # Recorded before the reply leaves: the caller cannot act on it any earlier.
        self._record(Call(
            received, answer.operation, answer.body, status, time.monotonic(),
            retry_after if status == 429 else None,
        ))  # fmt: skip
        return status, headers, payload

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)


@dataclass(frozen=True)
class _Answer:
    operation: str
    body: Any
    status: int
    payload: dict[str, Any]


def _envelope(result: Any = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Cloudflare's v4 response envelope."""
    return {"success": not errors, "errors": errors or [], "messages": [], "result": result}


def _peer_gone(sock: socket.socket) -> bool:
    """The client closed its end (a killed purger): readable with nothing to read."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _handler(fake: CloudflareFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            reply = fake.serve(self.path, self.headers.get("authorization"), raw, self.connection)
            if reply is None:
                return
            status, headers, payload = reply
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the caller went away meanwhile
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass  # every call is in fake.calls()

    return Handler
