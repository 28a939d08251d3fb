-- The approximate kNN searches distinct embedded texts, not listings. Listings share texts (a
-- model's trims, colours and dealers read alike): ~6 copies of each vector at 100k, ~33 at 1M,
-- over a thousand for the commonest text. An HNSW graph over identical points fills its
-- neighbour lists with zero distances and strands the search in the first cluster it reaches:
-- recall@10 fell to 0.29-0.74 at 1M (docs/scale.md). The graph over `text_embeddings` has one
-- point per text; listings join it by `text_hash`, filters apply to the listings.
DROP INDEX IF EXISTS vehicles_embedding_hnsw;
-- Rebuilt below with the text hash included (and not updated row by row meanwhile).
DROP INDEX IF EXISTS vehicles_covering;

ALTER TABLE vehicles ADD COLUMN text_hash bytea;

-- The database derives the link, whoever writes the row: sha256 of the UTF-8 embed text, the
-- key of `text_embeddings` (origin.search.embedder.content_hash).
CREATE FUNCTION vehicles_text_hash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.text_hash := sha256(convert_to(NEW.embed_text, 'UTF8'));
    RETURN NEW;
END
$$;
CREATE TRIGGER vehicles_text_hash BEFORE INSERT OR UPDATE ON vehicles
    FOR EACH ROW EXECUTE FUNCTION vehicles_text_hash();

UPDATE vehicles SET text_hash = sha256(convert_to(embed_text, 'UTF8'));
ALTER TABLE vehicles ALTER COLUMN text_hash SET NOT NULL;

-- A text's listings in id order (a page takes at most `limit` of each), with every filter column
-- included: the HNSW path asks, text by text, whether any listing of the text matches the
-- filters, and an index-only scan answers without visiting the table (p95 of the database
-- stage at 100k: 62 -> 40 ms).
CREATE INDEX vehicles_text_hash ON vehicles (text_hash, id)
    INCLUDE (make, model, body, fuel, drivetrain, transmission, color, dealer, year, price,
             mileage, lat, lon)
    WHERE status = 'active';

-- The exact path collects the texts of the matching listings: with text_hash in the covering
-- index of the filters that is an index-only scan too (1M rows, a popular model's 40k listings:
-- 55 -> 12 ms).
CREATE INDEX vehicles_covering ON vehicles
    (body, fuel, make, model, year, price, mileage, drivetrain, transmission, color, dealer)
    INCLUDE (text_hash)
    WHERE status = 'active';

CREATE INDEX IF NOT EXISTS text_embeddings_hnsw ON text_embeddings
    USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 128);
