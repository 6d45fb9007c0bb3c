-- Places: county → township → village, with official codes, and the annual denominators.
-- Geometry is EPSG:4326 everywhere; synthetic geometry (not surveyed) is flagged.

-- Every table carries created_at/updated_at; this trigger keeps updated_at honest.
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- How a record was attached to its village (see the village linker).
CREATE TYPE link_method AS ENUM ('code', 'name', 'name_fuzzy', 'point_in_polygon', 'nearest');

CREATE TABLE counties (
    code        char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text NOT NULL CHECK (name <> ''),
    name_en     text,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    source      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX counties_geom_idx ON counties USING gist (geom);
CREATE TRIGGER counties_touch BEFORE UPDATE ON counties FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Neighbouring counties: basemap context only, no registers hang off them.
CREATE TABLE neighbour_counties (
    code        char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX neighbour_counties_geom_idx ON neighbour_counties USING gist (geom);

CREATE TABLE rivers (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text,
    level       smallint NOT NULL,
    geom        geometry(LineString, 4326) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rivers_geom_idx ON rivers USING gist (geom);

CREATE TYPE township_kind AS ENUM ('town', 'township', 'farm_forest_port', 'xpcc_regiment');

CREATE TABLE townships (
    code            char(9) PRIMARY KEY CHECK (code ~ '^[0-9]{9}$'),
    county_code     char(6) NOT NULL REFERENCES counties (code),
    name            text NOT NULL CHECK (name <> ''),
    kind            township_kind NOT NULL,
    -- Seat position; synthetic when no source gives it.
    seat            geometry(Point, 4326) NOT NULL,
    seat_synthetic  boolean NOT NULL,
    seat_confidence text NOT NULL,
    -- Township area; the demo's are Voronoi cells of the seats clipped to the county.
    geom            geometry(MultiPolygon, 4326) NOT NULL,
    synthetic       boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (substr(code, 1, 6) = county_code)
);
CREATE INDEX townships_geom_idx ON townships USING gist (geom);
CREATE TRIGGER townships_touch BEFORE UPDATE ON townships FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE village_kind AS ENUM ('village_committee', 'residents_committee', 'farm_unit');

CREATE TABLE villages (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            char(12) NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    township_code   char(9) NOT NULL REFERENCES townships (code),
    name            text NOT NULL CHECK (name <> ''),
    kind            village_kind NOT NULL,
    geom            geometry(Point, 4326) NOT NULL,
    boundary        geometry(MultiPolygon, 4326),
    -- true while the position/boundary is a demo placement, not the county's own survey.
    synthetic       boolean NOT NULL,
    -- Remote villages are followed up every 6 months instead of 3 (DOMAIN.md §2).
    remote          boolean NOT NULL DEFAULT false,
    h3_r7           bigint NOT NULL,
    h3_r8           bigint NOT NULL,
    h3_r9           bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (substr(code, 1, 9) = township_code)
);
CREATE INDEX villages_township_idx ON villages (township_code);
CREATE INDEX villages_geom_idx ON villages USING gist (geom);
CREATE INDEX villages_boundary_idx ON villages USING gist (boundary);
CREATE TRIGGER villages_touch BEFORE UPDATE ON villages FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Year-end denominators (年末): people, households, dogs and livestock per village and year.
CREATE TABLE village_denominators (
    village_id      integer NOT NULL REFERENCES villages (id),
    year            smallint NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    population      integer NOT NULL CHECK (population >= 0),
    households      integer NOT NULL CHECK (households >= 0),
    dogs_estimated  integer NOT NULL CHECK (dogs_estimated >= 0),
    sheep           integer NOT NULL DEFAULT 0 CHECK (sheep >= 0),
    goats           integer NOT NULL DEFAULT 0 CHECK (goats >= 0),
    cattle          integer NOT NULL DEFAULT 0 CHECK (cattle >= 0),
    horses          integer NOT NULL DEFAULT 0 CHECK (horses >= 0),
    camels          integer NOT NULL DEFAULT 0 CHECK (camels >= 0),
    synthetic       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (village_id, year)
);
CREATE TRIGGER village_denominators_touch BEFORE UPDATE ON village_denominators FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
