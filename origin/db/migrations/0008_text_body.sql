-- An HNSW graph per body type, over the texts of that body. The miss path's tail was the walk of
-- the one graph under a body filter: a query far from sedans (19% of the texts at 100k) walked
-- ~500 texts and ~20k buffers to find 25 sedans, 20-50 ms. Over the sedans' own graph the same
-- searches took a median 3.4 ms instead of 7.0, the worst 7.5 instead of 32, recall the same.
-- The text is built from the body's label (origin/inventory/service.py embed_text), so a text
-- has one body; the listings' statement triggers set it (a writer cannot forget it).

-- Writers wait: a text written between the fill and the trigger would keep no body.
LOCK TABLE vehicles IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE text_embeddings ADD COLUMN body text;

-- Rewriting every row with the graph in place would add each one to it twice.
DROP INDEX IF EXISTS text_embeddings_hnsw;
UPDATE text_embeddings t SET body = v.body
FROM (SELECT DISTINCT ON (text_hash) text_hash, body FROM vehicles
      ORDER BY text_hash, status = 'active' DESC) v
WHERE v.text_hash = t.hash;

-- origin/db/vehicles.py HNSW_INDEXES_SQL builds the same after a seed load (a test compares).
CREATE INDEX text_embeddings_hnsw ON text_embeddings
    USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 128);
DO $$
DECLARE
    body text;
BEGIN
    FOREACH body IN ARRAY ARRAY['sedan', 'suv', 'pickup', 'coupe', 'hatchback', 'convertible',
                                'wagon', 'van', 'minivan'] LOOP
        EXECUTE format('CREATE INDEX %I ON text_embeddings USING hnsw (embedding vector_ip_ops) '
                       'WITH (m = 16, ef_construction = 128) WHERE body = %L',
                       'text_embeddings_hnsw_' || body, body);
    END LOOP;
END
$$;
ANALYZE text_embeddings;

-- The texts still without a body: few or none, so asking costs one look at an empty index.
CREATE INDEX text_embeddings_bodiless ON text_embeddings (hash) WHERE body IS NULL;

-- The writers cache a text with its body (the seed, the inventory API). Beside them, a write's
-- statement triggers give a text its body when it has none, so no writer can leave a text out of
-- its body's graph. The common write finds no such text and changes no text row (joining every
-- write's texts to look cost the 1M load's COPY ~20%).
CREATE FUNCTION text_embeddings_body() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM text_embeddings WHERE body IS NULL) THEN
        UPDATE text_embeddings t SET body = c.body
        FROM (SELECT DISTINCT ON (text_hash) text_hash, body FROM changed
              ORDER BY text_hash, status = 'active' DESC) c
        WHERE t.hash = c.text_hash AND t.body IS NULL;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER text_embeddings_body_insert AFTER INSERT ON vehicles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION text_embeddings_body();
CREATE TRIGGER text_embeddings_body_update AFTER UPDATE ON vehicles
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION text_embeddings_body();
