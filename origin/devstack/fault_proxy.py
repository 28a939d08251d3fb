"""A loopback TCP fault proxy in front of PostgreSQL: passes on what the server sends late
(latency), or holds it (a stall), on demand. The fault drill's "slow database" (origins connect
through it).

`python -m origin.devstack.fault_proxy --dsn URL --delay-ms 200` prints the proxied DSN and runs
until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

CHUNK = 65_536


@dataclass(frozen=True)
class Upstream:
    """Where PostgreSQL listens: a Unix socket (the embedded default) or host:port."""

    host: str = "127.0.0.1"
    port: int = 5432
    unix_path: str | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.unix_path is not None:
            return await asyncio.open_unix_connection(self.unix_path)
        return await asyncio.open_connection(self.host, self.port)


def upstream_of(dsn: str) -> Upstream:
    """The server a libpq-style URL names (`?host=/dir` is a socket directory, as libpq reads)."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    if host.startswith("/"):
        return Upstream(unix_path=f"{host}/.s.PGSQL.{port}")
    return Upstream(host, port)


def via_proxy(dsn: str, port: int) -> str:
    """`dsn` with its server replaced by the proxy on 127.0.0.1:`port` (user, database kept)."""
    parts = urlsplit(dsn)
    query = {k: v for k, v in parse_qs(parts.query).items() if k not in ("host", "port")}
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    netloc = f"{user}{password}@127.0.0.1:{port}"
    # The proxy speaks plain TCP to the client: no TLS negotiation to forward.
    query["sslmode"] = ["disable"]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, doseq=True)))


class FaultProxy:
    """Its event loop runs in a daemon thread, so synchronous drills can drive it; `delay_s` is
    read per chunk (a plain attribute: one writer, atomic under the GIL)."""

    def __init__(self, upstream: Upstream, port: int = 0) -> None:
        self.upstream = upstream
        self.delay_s = 0.0  # each chunk from the server is passed on this much later
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()  # cleared: no byte from the server is passed on
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._server is None:
            raise RuntimeError("fault proxy did not start")
        self.port: int = self._server.sockets[0].getsockname()[1]

    def slow(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def stall(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def restore(self) -> None:
        self.delay_s = 0.0
        self._loop.call_soon_threadsafe(self._flowing.set)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            self._loop.close()

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await self.upstream.open()
        except OSError:
            client_writer.close()
            return
        # Only the server's answers are delayed: every query then costs one delay per round trip.
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        await asyncio.gather(
            self._pump(client_reader, server_writer),
            self._delay(server_reader, in_flight),
            self._deliver(in_flight, client_writer),
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with _closing(writer):
            while chunk := await reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()

    async def _delay(
        self, reader: asyncio.StreamReader, in_flight: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        # Each chunk is due `delay_s` after it arrived: latency, not a bandwidth limit (a large
        # result in many chunks is late once, not once per chunk).
        loop = asyncio.get_running_loop()
        try:
            while chunk := await reader.read(CHUNK):
                await self._flowing.wait()
                in_flight.put_nowait((loop.time() + self.delay_s, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            in_flight.put_nowait((0.0, b""))

    async def _deliver(
        self, in_flight: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        with _closing(writer):
            while (item := await in_flight.get())[1]:
                await asyncio.sleep(max(0.0, item[0] - loop.time()))
                writer.write(item[1])
                await writer.drain()


@contextlib.contextmanager
def _closing(writer: asyncio.StreamWriter) -> Iterator[None]:
    """A broken connection ends the copy; then `writer` is closed, so that neither end waits on
    a half-open pair."""
    try:
        yield
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True, help="the database URL to proxy")
    parser.add_argument("--port", type=int, default=0, help="where the proxy listens (0 = free)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="latency added")
    args = parser.parse_args(argv)
    proxy = FaultProxy(upstream_of(args.dsn), args.port)
    proxy.slow(args.delay_ms / 1000)
    print(via_proxy(args.dsn, proxy.port), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    proxy.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
