-- Data versions (for tile and result caches) and H3 cell outlines (for cell-aggregated layers).

-- One counter per table, bumped by every statement that changes the table. A cache key that
-- holds the versions of the tables a result was computed from is fresh by construction:
-- a write changes the version, the next request misses the cache.
CREATE TABLE data_versions (
    table_name  text PRIMARY KEY,
    version     bigint NOT NULL DEFAULT 1,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (table_name) VALUES (TG_TABLE_NAME)
    ON CONFLICT (table_name) DO UPDATE
        SET version = data_versions.version + 1, changed_at = now();
    RETURN NULL;
END;
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'counties', 'neighbour_counties', 'rivers', 'townships', 'villages', 'village_denominators',
        'households', 'people', 'dogs', 'dewormings', 'faecal_tests', 'stray_dog_events',
        'slaughter_points', 'slaughter_inspections', 'vaccination_campaigns', 'vaccinations',
        'rodent_surveys', 'cases', 'imaging_exams', 'treatments', 'followups',
        'screening_campaigns', 'health_education', 'stock_items', 'stock_movements'
    ] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
             FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()',
            t || '_data_version', t);
        INSERT INTO data_versions (table_name) VALUES (t) ON CONFLICT DO NOTHING;
    END LOOP;
END;
$$;

-- The outline of every H3 cell (resolutions 6–9) that holds a village, written by the server
-- (h3o computes the boundary; PostgreSQL has no H3 here). Cell-aggregated tile layers join it.
CREATE TABLE h3_cells (
    cell        bigint PRIMARY KEY,
    resolution  smallint NOT NULL CHECK (resolution BETWEEN 0 AND 15),
    geom        geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX h3_cells_geom_idx ON h3_cells USING gist (geom);
CREATE INDEX h3_cells_resolution_idx ON h3_cells (resolution);

ALTER TABLE villages ADD COLUMN h3_r6 bigint;
