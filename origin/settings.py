"""Configuration, read from the environment once into a frozen object that is passed down.

No other module reads os.environ. Every setting is listed in the README's settings table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    # Where the embedded PostgreSQL and caches live (the database only without database_url).
    data_dir: Path = REPO_ROOT / ".vsearch"
    database_url: str | None = field(default=None, repr=False)
    # Behind a transaction-mode pooler (Supabase, pgbouncer): no statement cache, no startup
    # parameters; migrations and LISTEN (session state) go to direct_database_url instead.
    transaction_pooler: bool = False
    direct_database_url: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker processes of `vsearch serve` (uvicorn --workers); over 1, /metrics sums them all
    # through prometheus-client's multiprocess mode (docs/operations.md).
    workers: int = 1
    vehicles: int = 100_000
    seed: int = 42
    pool_min: int = 2
    pool_max: int = 10
    pool_acquire_timeout_s: float = 2.0
    statement_timeout_ms: int = 2_000
    # Supabase's pooler in transaction mode cannot keep prepared statements (RESEARCH.md).
    statement_cache_size: int = 100
    # Time budget of the vector path (embed + kNN); past it the keyword fallback answers.
    vector_budget_ms: int = 300
    # At or below this many matching rows the planner ranks the matching subset exactly; above,
    # the texts its make/model/body/fuel/drivetrain filters select, exactly, if at most
    # exact_max_texts (~4 us a text: pickup + 4wd, 1,488 texts at 1M, ~10 ms where HNSW walked
    # ~9,000 texts for 43-106 ms; past ~3,000, HNSW is the faster: sedan, 6,379 texts, 29 ms
    # exact against 9 ms); else HNSW.
    exact_max_rows: int = 6_000
    exact_max_texts: int = 3_000
    # Over the ~17k (100k) to ~31k (1M) distinct texts: recall@10 at 1M 0.981 (200), 0.989 (400),
    # 0.9997 (800); the database p50 at 100k 5.7 ms (200), 8.8 ms (800).
    hnsw_ef_search: int = 400
    hnsw_max_scan_tuples: int = 40_000
    embed_threads: int = 1
    cache_max_age_s: int = 60
    cache_swr_s: int = 300
    cache_sie_s: int = 86_400
    admin_token: str | None = field(default=None, repr=False)
    # Internal read routes (the dashboard); the admin token satisfies them too, never the reverse.
    read_token: str | None = field(default=None, repr=False)
    # Redis (L2 cache, tag index, cross-instance single flight); None = run without it, degraded.
    redis_url: str | None = field(default=None, repr=False)
    redis_timeout_s: float = 0.25
    l1_max_entries: int = 2_048
    l1_ttl_s: float = 5.0
    redis_ttl_s: int = 300
    # False = no result caches at the origin (L1, Redis): the baseline of the load test.
    cache_enabled: bool = True
    # A query asked this many times within popular_window_s is marked X-Popular (edge KV).
    popular_threshold: int = 5
    popular_window_s: int = 600
    # Cloudflare (purge by tag, KV deletes); all unset = the Cloudflare step is skipped.
    cloudflare_api_token: str | None = field(default=None, repr=False)
    cloudflare_zone_id: str | None = None
    cloudflare_account_id: str | None = None
    cloudflare_kv_namespace_id: str | None = None
    cloudflare_plan: str = "free"
    # Where the Cloudflare API is reached: its own URL, or a local fake of its endpoints in the
    # fault drill (origin/devstack/cloudflare_fake.py).
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    # The local edge's admin paths (scripts/edge/run): its purge, and its per-layer counts on the
    # dashboard; unset = no local edge to purge or to read.
    edge_admin_url: str | None = None
    edge_admin_token: str | None = field(default=None, repr=False)
    # Alertmanager whose active alerts the dashboard lists (scripts/run --monitoring sets it).
    alertmanager_url: str | None = None
    purger_poll_s: float = 5.0
    purger_lease_s: float = 30.0
    # Freshness bound of Cloudflare's cache under a burst: past what the plan's purge rate can
    # send by tag in time, one purge_everything replaces the backlog's tag purges (README).
    purge_max_delay_s: float = 60.0
    # On SIGTERM, /readyz answers 503 this long (load balancers take the instance out) before
    # the server stops accepting; then in-flight requests finish.
    shutdown_drain_s: float = 2.0
    # A search slower than this at the origin logs one line with its strategy and stages.
    slow_search_ms: float = 250.0
    # Rate limits ("N/second|minute|hour", limits' notation; "off" disables), in Redis when
    # configured so every instance shares the counters. Per client address, and per bearer token.
    rate_limit_client: str = "1200/minute"
    rate_limit_key: str = "6000/minute"
    # Client addresses never limited per client: the local edge and load generator on loopback.
    rate_limit_exempt: str = "127.0.0.1,::1"
    # The header holding the real client address behind a proxy (CF-Connecting-IP behind
    # Cloudflare); unset = the peer address. Only safe when the origin is reachable via the proxy.
    client_ip_header: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024
    max_query_bytes: int = 2_048
    max_query_params: int = 40
    # Origins allowed to call the shopper search from a browser (CORS); admin routes never.
    cors_origins: str = "*"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"


# env name -> (field name, parser)
_ENV: dict[str, str] = {
    "VSEARCH_DATA_DIR": "data_dir",
    "DATABASE_URL": "database_url",
    "VSEARCH_TRANSACTION_POOLER": "transaction_pooler",
    "VSEARCH_DIRECT_DATABASE_URL": "direct_database_url",
    "VSEARCH_HOST": "host",
    "VSEARCH_PORT": "port",
    "VSEARCH_WORKERS": "workers",
    "VSEARCH_VEHICLES": "vehicles",
    "VSEARCH_SEED": "seed",
    "VSEARCH_POOL_MIN": "pool_min",
    "VSEARCH_POOL_MAX": "pool_max",
    "VSEARCH_POOL_ACQUIRE_TIMEOUT_S": "pool_acquire_timeout_s",
    "VSEARCH_STATEMENT_TIMEOUT_MS": "statement_timeout_ms",
    "VSEARCH_STATEMENT_CACHE_SIZE": "statement_cache_size",
    "VSEARCH_VECTOR_BUDGET_MS": "vector_budget_ms",
    "VSEARCH_EXACT_MAX_ROWS": "exact_max_rows",
    "VSEARCH_EXACT_MAX_TEXTS": "exact_max_texts",
    "VSEARCH_HNSW_EF_SEARCH": "hnsw_ef_search",
    "VSEARCH_HNSW_MAX_SCAN_TUPLES": "hnsw_max_scan_tuples",
    "VSEARCH_EMBED_THREADS": "embed_threads",
    "VSEARCH_CACHE_MAX_AGE_S": "cache_max_age_s",
    "VSEARCH_CACHE_SWR_S": "cache_swr_s",
    "VSEARCH_CACHE_SIE_S": "cache_sie_s",
    "VSEARCH_ADMIN_TOKEN": "admin_token",
    "VSEARCH_READ_TOKEN": "read_token",
    "REDIS_URL": "redis_url",
    "VSEARCH_REDIS_TIMEOUT_S": "redis_timeout_s",
    "VSEARCH_L1_MAX_ENTRIES": "l1_max_entries",
    "VSEARCH_L1_TTL_S": "l1_ttl_s",
    "VSEARCH_REDIS_TTL_S": "redis_ttl_s",
    "VSEARCH_CACHE_ENABLED": "cache_enabled",
    "VSEARCH_POPULAR_THRESHOLD": "popular_threshold",
    "VSEARCH_POPULAR_WINDOW_S": "popular_window_s",
    "CLOUDFLARE_API_TOKEN": "cloudflare_api_token",
    "CLOUDFLARE_ZONE_ID": "cloudflare_zone_id",
    "CLOUDFLARE_ACCOUNT_ID": "cloudflare_account_id",
    "CLOUDFLARE_KV_NAMESPACE_ID": "cloudflare_kv_namespace_id",
    "VSEARCH_CLOUDFLARE_PLAN": "cloudflare_plan",
    "VSEARCH_CLOUDFLARE_API_URL": "cloudflare_api_url",
    "VSEARCH_EDGE_ADMIN_URL": "edge_admin_url",
    "VSEARCH_EDGE_ADMIN_TOKEN": "edge_admin_token",
    "VSEARCH_ALERTMANAGER_URL": "alertmanager_url",
    "VSEARCH_PURGER_POLL_S": "purger_poll_s",
    "VSEARCH_PURGER_LEASE_S": "purger_lease_s",
    "VSEARCH_PURGE_MAX_DELAY_S": "purge_max_delay_s",
    "VSEARCH_SHUTDOWN_DRAIN_S": "shutdown_drain_s",
    "VSEARCH_SLOW_SEARCH_MS": "slow_search_ms",
    "VSEARCH_RATE_LIMIT_CLIENT": "rate_limit_client",
    "VSEARCH_RATE_LIMIT_KEY": "rate_limit_key",
    "VSEARCH_RATE_LIMIT_EXEMPT": "rate_limit_exempt",
    "VSEARCH_CLIENT_IP_HEADER": "client_ip_header",
    "VSEARCH_MAX_BODY_BYTES": "max_body_bytes",
    "VSEARCH_MAX_QUERY_BYTES": "max_query_bytes",
    "VSEARCH_MAX_QUERY_PARAMS": "max_query_params",
    "VSEARCH_CORS_ORIGINS": "cors_origins",
}
ENV_VARS: tuple[str, ...] = tuple(sorted(_ENV))


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from `environ` (default: the process environment), then explicit overrides."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    for env_name, name in _ENV.items():
        raw = environ.get(env_name)
        if raw is None or raw == "":
            continue
        values[name] = _coerce(env_name, raw, str(types[name]))
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.transaction_pooler and not settings.direct_database_url:
        # A session advisory lock (migrations) or LISTEN through it would land on whichever
        # server connection is free: the lock leaks and notifications are lost.
        raise SettingsError("VSEARCH_TRANSACTION_POOLER=1 needs VSEARCH_DIRECT_DATABASE_URL")
    if settings.read_token and settings.read_token == settings.admin_token:
        # The read token would then pass admin checks: the scopes must stay apart.
        raise SettingsError("VSEARCH_READ_TOKEN must differ from VSEARCH_ADMIN_TOKEN")
    if settings.workers < 1:
        raise SettingsError(f"VSEARCH_WORKERS must be at least 1, got {settings.workers}")
    return settings


def _coerce(env_name: str, raw: str, type_name: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError:
        raise SettingsError(f"{env_name} must be a {type_name}, got {raw!r}") from None
    if type_name == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{env_name} must be a bool (1/0, true/false), got {raw!r}")
    if type_name == "Path":
        return Path(raw).expanduser().resolve()
    return raw
