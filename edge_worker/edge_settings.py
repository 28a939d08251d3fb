"""The worker's settings, read once from its bindings' string vars (wrangler.toml `[vars]`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Every var the worker reads, so the JS shell can copy exactly these off `env`.
VAR_NAMES = (
    "ORIGIN_URLS",
    "ORIGIN_TIMEOUT_MS",
    "ORIGIN_BUDGET_MS",
    "ORIGIN_COOLDOWN_S",
    "MAX_QUERY_BYTES",
    "KV_MIN_TTL_S",
    "DEFAULT_SWR_S",
    "DEFAULT_SIE_S",
)


@dataclass(frozen=True)
class EdgeSettings:
    """Frozen configuration; `from_vars` is the only place that parses it."""

    origin_urls: tuple[str, ...] = ("http://127.0.0.1:8000",)
    origin_timeout_s: float = 2.5
    # Failover must not turn one slow request into N timeouts in a row.
    origin_budget_s: float = 6.0
    origin_cooldown_s: float = 10.0
    max_query_bytes: int = 2048
    # Cloudflare KV refuses expirationTtl below 60 s.
    kv_min_ttl_s: int = 60
    default_swr_s: int = 0
    default_sie_s: int = 0

    @classmethod
    def from_vars(cls, env: Mapping[str, str]) -> EdgeSettings:
        """Parse the string vars; a missing or empty var keeps its default."""
        base = cls()

        def num(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            value = float(raw)
            if value < 0:
                raise ValueError(f"{name} must not be negative: {raw!r}")
            return value

        origins = tuple(
            url.strip().rstrip("/") for url in env.get("ORIGIN_URLS", "").split(",") if url.strip()
        )
        return cls(
            origin_urls=origins or base.origin_urls,
            origin_timeout_s=num("ORIGIN_TIMEOUT_MS", base.origin_timeout_s * 1000) / 1000,
            origin_budget_s=num("ORIGIN_BUDGET_MS", base.origin_budget_s * 1000) / 1000,
            origin_cooldown_s=num("ORIGIN_COOLDOWN_S", base.origin_cooldown_s),
            max_query_bytes=int(num("MAX_QUERY_BYTES", base.max_query_bytes)),
            kv_min_ttl_s=max(60, int(num("KV_MIN_TTL_S", base.kv_min_ttl_s))),
            default_swr_s=int(num("DEFAULT_SWR_S", base.default_swr_s)),
            default_sie_s=int(num("DEFAULT_SIE_S", base.default_sie_s)),
        )
