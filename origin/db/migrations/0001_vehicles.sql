-- Vehicles with their embedding, the ZIP table for radius search, and the embedding cache.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE vehicles (
    id            bigint PRIMARY KEY,
    make          text NOT NULL,
    model         text NOT NULL,
    make_name     text NOT NULL,
    model_name    text NOT NULL,
    year          smallint NOT NULL,
    price         integer NOT NULL CHECK (price >= 0),
    mileage       integer NOT NULL CHECK (mileage >= 0),
    body          text NOT NULL,
    fuel          text NOT NULL,
    drivetrain    text NOT NULL,
    transmission  text NOT NULL,
    color         text NOT NULL,
    condition     text NOT NULL,
    zip           text NOT NULL,
    lat           double precision NOT NULL,
    lon           double precision NOT NULL,
    city          text NOT NULL,
    state         text NOT NULL,
    region        text NOT NULL,
    dealer        text NOT NULL,
    title         text NOT NULL,
    description   text NOT NULL,
    embed_text    text NOT NULL,
    embedding     vector(384) NOT NULL,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'sold')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The keyword fallback's index: used when the vector path fails or runs out of time.
    search_tsv    tsvector GENERATED ALWAYS AS (
                      to_tsvector('english', title || ' ' || description)) STORED
);

-- Filters the planner turns into B-tree bitmap scans; only active listings are ever searched.
CREATE INDEX vehicles_make_model ON vehicles (make, model) WHERE status = 'active';
CREATE INDEX vehicles_body ON vehicles (body) WHERE status = 'active';
CREATE INDEX vehicles_fuel ON vehicles (fuel) WHERE status = 'active';
CREATE INDEX vehicles_drivetrain ON vehicles (drivetrain) WHERE status = 'active';
CREATE INDEX vehicles_color ON vehicles (color) WHERE status = 'active';
CREATE INDEX vehicles_dealer ON vehicles (dealer) WHERE status = 'active';
CREATE INDEX vehicles_price ON vehicles (price, id) WHERE status = 'active';
CREATE INDEX vehicles_year ON vehicles (year, id) WHERE status = 'active';
CREATE INDEX vehicles_mileage ON vehicles (mileage, id) WHERE status = 'active';
CREATE INDEX vehicles_latlon ON vehicles (lat, lon) WHERE status = 'active';
CREATE INDEX vehicles_search_tsv ON vehicles USING gin (search_tsv) WHERE status = 'active';

CREATE TABLE zips (
    zip     text PRIMARY KEY,
    lat     double precision NOT NULL,
    lon     double precision NOT NULL,
    city    text NOT NULL,
    state   text NOT NULL,
    region  text NOT NULL
);

-- Embeddings by content hash (sha256 of the exact text), so a text is embedded once, ever.
CREATE TABLE text_embeddings (
    hash       bytea PRIMARY KEY,
    model      text NOT NULL,
    embedding  vector(384) NOT NULL
);

-- What the demo inventory was generated from, so a second run can reuse it.
CREATE TABLE seed_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    vehicles   integer NOT NULL,
    seed       integer NOT NULL,
    signature  text NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);
