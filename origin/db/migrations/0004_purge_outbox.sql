-- The write path's transactional outbox (issue 4). A vehicle change and its purge event commit in
-- one transaction; the purger claims events with a lease (FOR UPDATE SKIP LOCKED), purges every
-- cache tier, and marks them done. NOTIFY vsearch_purge wakes it; polling is the fallback.
CREATE TABLE purge_outbox (
    id            bigserial PRIMARY KEY,
    -- Tags to purge now: v:<id> of changed vehicles, or tags asked for through POST /v1/purge.
    tags          text[] NOT NULL,
    reason        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Not claimable before this (retry backoff).
    available_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    leased_until  timestamptz,
    lease_owner   text,
    -- Workers KV keys found through the Redis tag index, kept here before Redis is purged so a
    -- retry after a crash still deletes them.
    kv_keys       text[] NOT NULL DEFAULT '{}',
    last_error    text,
    done_at       timestamptz
);
CREATE INDEX purge_outbox_pending ON purge_outbox (available_at, id) WHERE done_at IS NULL;
CREATE INDEX purge_outbox_done ON purge_outbox (done_at) WHERE done_at IS NOT NULL;

-- Coarse query tags (listing_tags: "q:unfiltered", "body:suv", ...) that a new or changed listing
-- needs purged. Coalesced: one row per tag, purged at most once per window (the purger turns due
-- rows into an outbox event). Bounded by the number of distinct filter values.
CREATE TABLE purge_coarse_tags (
    tag             text PRIMARY KEY,
    due_at          timestamptz,
    last_purged_at  timestamptz
);
CREATE INDEX purge_coarse_tags_due ON purge_coarse_tags (due_at) WHERE due_at IS NOT NULL;
