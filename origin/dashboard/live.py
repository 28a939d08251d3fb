"""The dashboard's background work for the app's lifespan: one HTTP client for what it reads
outside this process (the local edge's counts, Alertmanager), the history recorder, the alert
watcher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import httpx

from origin.dashboard.alerts import AlertWatcher
from origin.dashboard.edge import read_counts
from origin.dashboard.history import EdgeReader, History, recorded_history
from origin.settings import Settings


@dataclass(frozen=True)
class LiveDashboard:
    history: History
    alerts: AlertWatcher


def _edge_reader(settings: Settings, client: httpx.AsyncClient) -> EdgeReader | None:
    # The local edge's admin paths need its token; without one there is nothing to read.
    if not (settings.edge_admin_url and settings.edge_admin_token):
        return None
    return partial(read_counts, client, settings.edge_admin_url, settings.edge_admin_token)


@contextlib.asynccontextmanager
async def live_dashboard(settings: Settings) -> AsyncIterator[LiveDashboard]:
    """History recording and alert watching, running until exit."""
    # Loopback and internal services only: no proxy from the environment in between.
    async with httpx.AsyncClient(trust_env=False) as client:
        alerts = AlertWatcher(client, settings.alertmanager_url)
        async with recorded_history(settings, _edge_reader(settings, client)) as history:
            watcher = asyncio.create_task(alerts.run()) if settings.alertmanager_url else None
            try:
                yield LiveDashboard(history, alerts)
            finally:
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
