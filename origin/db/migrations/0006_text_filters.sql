-- The texts a filter on make, model, body, fuel or drivetrain selects, without reading listings.
-- The embedded text is built from those columns, so its listings share their values: such a
-- filter selects whole texts. At 1M, pickup + 4wd is 7.7% of the listings (over the exact
-- threshold, 5% then) but 4.9% of the texts, and few of them are near most queries: the HNSW walk
-- visited 9,205 texts for 25 pickups and checked each against its listings (~30 index entries per
-- failed check), 196 ms and 126k buffers for one search (EXPLAIN ANALYZE, warm), after 28-49 ms
-- counting to the 50k-row threshold. Ranking the 1,488 texts this table names exactly, then
-- checking the nearest until enough carry a matching listing: 13 ms, 6.7k buffers. The planner
-- now takes that way when the text count is small (settings.exact_max_texts), and the row
-- threshold no longer needs a share of the inventory. Miss path at 1M, database p95 57-61 ->
-- 22-23 ms, p99 ~155 -> ~45 ms (old and new run alternately); recall@10 unchanged.
--
-- Tried first: an index (text_hash, body, fuel, drivetrain, make, model, id) INCLUDE (...) in
-- place of vehicles_text_hash, so a failed check is one descent: 84.5k -> 36.9k buffers for the
-- 9,205 checks, 196 -> 134 ms, the walk itself (86 ms) untouched; and PostgreSQL costs its skip
-- scan over body/fuel/drivetrain so high that it checked make + model filters through
-- vehicles_covering instead (7.7 ms a check).
--
-- A superset, never pruned: a row per (text, values) any active listing has had. A text outside
-- it has no matching listing; one inside is still checked against vehicles, so a sold listing or
-- a stale row costs a check, never a wrong result.
CREATE TABLE text_filters (
    text_hash   bytea NOT NULL,
    make        text NOT NULL,
    model       text NOT NULL,
    body        text NOT NULL,
    fuel        text NOT NULL,
    drivetrain  text NOT NULL,
    PRIMARY KEY (text_hash, make, model, body, fuel, drivetrain)
);

INSERT INTO text_filters (text_hash, make, model, body, fuel, drivetrain)
SELECT DISTINCT text_hash, make, model, body, fuel, drivetrain FROM vehicles
WHERE status = 'active';
ANALYZE text_filters;

-- Once per statement, from its transition table: a 10k-row COPY batch of the seed adds one
-- INSERT, not 10k. Sorted, so concurrent writers take the new keys in the same order.
CREATE FUNCTION text_filters_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO text_filters (text_hash, make, model, body, fuel, drivetrain)
    SELECT DISTINCT text_hash, make, model, body, fuel, drivetrain FROM changed
    WHERE status = 'active'
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- Two triggers: one with a transition table can have only one event.
CREATE TRIGGER text_filters_insert AFTER INSERT ON vehicles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION text_filters_add();
CREATE TRIGGER text_filters_update AFTER UPDATE ON vehicles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION text_filters_add();
