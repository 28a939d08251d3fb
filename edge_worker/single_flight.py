"""Coalesce concurrent identical origin calls within one isolate (one call per key in flight).

Only plain Python values cross between requests: JS objects such as a fetch Response belong to
the request that made them, so the shared result is an `OriginReply`, never a JS response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """`run(key, call)` starts `call` once per key; concurrent callers await the same result."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[T]] = {}
        self.started = 0
        self.joined = 0

    def in_flight(self, key: str) -> bool:
        """Whether a call for `key` is running now."""
        return key in self._flights

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """Result (or exception) of the one call for `key`."""
        flight = self._flights.get(key)
        if flight is None:
            self.started += 1
            flight = asyncio.ensure_future(call())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._land(key, done))
        else:
            self.joined += 1
        # shield: one caller giving up (client gone) must not cancel the call for the others.
        return await asyncio.shield(flight)

    def _land(self, key: str, flight: asyncio.Future[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            # Mark the exception retrieved: every waiter may have gone before it landed.
            flight.exception()
