"""Cross-instance L1 invalidation: a background task subscribed to `vs:invalidate` drops the
purged tags from this instance's L1. It reconnects by itself, and clears L1 after a gap
(purges published while it was away were missed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from origin.cache.memory import MemoryTier
from origin.cache.redis import CHANNEL, connect, decode_tags

log = logging.getLogger(__name__)
RECONNECT_MAX_S = 2.0


class Invalidator:
    """Owns the subscriber task; `start()` in the lifespan, `stop()` at shutdown."""

    def __init__(self, url: str, l1: MemoryTier, timeout_s: float) -> None:
        self.url = url
        self.l1 = l1
        self.timeout_s = timeout_s
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="l1-invalidation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a shutdown must never hang on a subscriber stuck in a socket read.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            # No read timeout: a subscriber idles; the health check (PING) finds a dead link.
            client = connect(self.url, self.timeout_s, health_check_interval=5)
            client.connection_pool.connection_kwargs["socket_timeout"] = None
            try:
                await self._listen(client)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("invalidation subscriber lost redis", extra={"error": repr(exc)})
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _listen(self, client: Redis) -> None:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            # Anything purged while we were not listening may sit in L1: start clean.
            self.l1.clear()
            self.subscribed.set()
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    await self.l1.purge_tags(decode_tags(message["data"]))
