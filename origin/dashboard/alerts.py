"""Active alerts for the dashboard: Alertmanager's v2 API read once a second with a short timeout;
an Alertmanager that does not answer shows as "unavailable" and never breaks the dashboard."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)
TIMEOUT_S = 0.5
MAX_SHOWN = 50  # bounds the WebSocket message in an alert storm
# Silenced and inhibited alerts are someone's decision already: the page lists what needs eyes.
QUERY = {"active": "true", "silenced": "false", "inhibited": "false"}
_SEVERITY_ORDER = {"page": 0, "ticket": 1}

AlertsView = dict[str, Any]


def parse_alerts(body: object) -> list[dict[str, str]]:
    """`GET /api/v2/alerts` -> `{name, severity, since, summary}`, pages first, oldest first.

    Raises ValueError when the body is not a list of alerts."""
    if not isinstance(body, list):
        raise ValueError("alertmanager: expected a list of alerts")
    alerts = []
    for item in body:
        labels = item.get("labels") if isinstance(item, Mapping) else None
        if not isinstance(labels, Mapping):
            raise ValueError("alertmanager: an alert without labels")
        annotations = item.get("annotations") or {}
        alerts.append(
            {
                "name": str(labels.get("alertname", "?")),
                "severity": str(labels.get("severity", "")),
                "since": str(item.get("startsAt", "")),
                "summary": str(annotations.get("summary", "")),
            }
        )
    alerts.sort(key=lambda a: (_SEVERITY_ORDER.get(a["severity"], 2), a["since"], a["name"]))
    return alerts[:MAX_SHOWN]


def unavailable(detail: str) -> AlertsView:
    return {"status": "unavailable", "detail": detail, "alerts": []}


async def read_alerts(client: httpx.AsyncClient, base_url: str) -> AlertsView:
    """What the page shows: `ok` with the alerts, or `unavailable` with why."""
    try:
        response = await client.get(
            f"{base_url.rstrip('/')}/api/v2/alerts", params=QUERY, timeout=TIMEOUT_S
        )
        response.raise_for_status()
        return {"status": "ok", "alerts": parse_alerts(response.json())}
    except httpx.TimeoutException:
        return unavailable(f"Alertmanager did not answer within {TIMEOUT_S} s")
    except httpx.HTTPStatusError as exc:
        return unavailable(f"Alertmanager answered {exc.response.status_code}")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return unavailable(f"Alertmanager unreachable ({type(exc).__name__})")
    except ValueError as exc:
        return unavailable(f"unexpected answer from Alertmanager: {exc}")


class AlertWatcher:
    """The latest view of the active alerts, refreshed by `run` (one reader per process, however
    many pages are open). Without an Alertmanager URL the view says `off`."""

    def __init__(self, client: httpx.AsyncClient | None, base_url: str | None) -> None:
        self._client = client
        self._url = base_url
        self.view: AlertsView = (
            {"status": "off", "alerts": []} if base_url is None else unavailable("not read yet")
        )

    async def refresh(self) -> None:
        if self._client is not None and self._url is not None:
            self.view = await read_alerts(self._client, self._url)

    async def run(self, interval_s: float = 1.0) -> None:
        previous = None
        while True:
            await self.refresh()
            status = self.view["status"]
            if status != previous:
                log.info("dashboard alerts %s", status, extra={"detail": self.view.get("detail")})
                previous = status
            await asyncio.sleep(interval_s)
