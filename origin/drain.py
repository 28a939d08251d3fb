"""Graceful shutdown: on SIGTERM readiness fails first so load balancers stop sending, then,
after a drain delay, the server's own handler stops accepting and finishes in-flight requests."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


class Drain:
    """Shared shutdown state: `draining` (readiness answers 503) and `stopping`, an event that
    background work (the purger) watches to finish its batch while requests complete."""

    def __init__(self) -> None:
        self.draining = False
        self.stopping = asyncio.Event()


def install_drain(drain: Drain, delay_s: float) -> Callable[[], None]:
    """Chain a SIGTERM handler before the server's (uvicorn's); returns the undo. A no-op
    outside the main thread or without a server handler (tests, one-shot commands)."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        return lambda: None
    server_handler: Callable[[int, FrameType | None], Any] = previous
    loop = asyncio.get_running_loop()

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if drain.draining:  # a second SIGTERM: stop accepting now
            server_handler(sig, frame)
            return
        log.warning("SIGTERM: draining", extra={"drain_s": delay_s})
        drain.draining = True
        loop.call_soon_threadsafe(drain.stopping.set)
        loop.call_soon_threadsafe(loop.call_later, delay_s, server_handler, sig, None)

    signal.signal(signal.SIGTERM, on_sigterm)

    def undo() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, server_handler)

    return undo
