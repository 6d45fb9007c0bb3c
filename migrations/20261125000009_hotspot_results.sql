-- Hotspot results, kept so that repeated requests, the tiles and the dashboard read the latest
-- result per layer without recomputing. A result is keyed by everything it was computed from:
-- layer, resolution, period, parameters, the scope it was computed for, and the data versions
-- of the tables it read; a change of data makes a new key, so a stored result is never stale.

CREATE TABLE hotspot_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cache_key       text NOT NULL UNIQUE,
    layer           text NOT NULL CHECK (layer IN ('human_cases', 'dog_positivity', 'livestock_infection')),
    resolution      smallint NOT NULL CHECK (resolution BETWEEN 6 AND 9),
    period_from     date NOT NULL,
    period_to       date NOT NULL,
    scope           text NOT NULL,
    params          jsonb NOT NULL,
    summary         jsonb NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (period_to >= period_from)
);
CREATE INDEX hotspot_results_latest_idx ON hotspot_results (layer, resolution, scope, computed_at DESC);

CREATE TABLE hotspot_cells (
    result_id       bigint NOT NULL REFERENCES hotspot_results (id) ON DELETE CASCADE,
    cell            bigint NOT NULL,
    geom            geometry(Polygon, 4326) NOT NULL,
    stats           jsonb NOT NULL,
    PRIMARY KEY (result_id, cell)
);
CREATE INDEX hotspot_cells_geom_idx ON hotspot_cells USING gist (geom);

-- Stored results are a data source of the `hotspots` tile layer: version them like the registers.
CREATE TRIGGER hotspot_results_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hotspot_results
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
INSERT INTO data_versions (table_name) VALUES ('hotspot_results') ON CONFLICT DO NOTHING;
