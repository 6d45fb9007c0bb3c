-- Kulldorff scan results, kept so that planners can take the clusters away (the `scan_clusters`
-- export and OGC collection read the latest result for a scope). One row per `/api/scan` run:
-- what was scanned (layer, period, scope, model and parameters) and when; one row per reported
-- cluster with its centre, radius, counts, relative risk, log-likelihood ratio, p-value, rank
-- and the codes of its member villages.

CREATE TABLE scan_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer           text NOT NULL CHECK (layer IN ('human_cases', 'dog_positivity', 'livestock_infection')),
    period_from     date NOT NULL,
    period_to       date NOT NULL,
    scope           text NOT NULL CHECK (scope ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    model           text NOT NULL CHECK (model IN ('poisson', 'bernoulli')),
    params          jsonb NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (period_to >= period_from)
);
CREATE INDEX scan_results_latest_idx ON scan_results (scope, computed_at DESC, id DESC);

CREATE TABLE scan_clusters (
    result_id       bigint NOT NULL REFERENCES scan_results (id) ON DELETE CASCADE,
    rank            integer NOT NULL CHECK (rank >= 1),
    centre          geometry(Point, 4326) NOT NULL,
    centre_code     text NOT NULL,
    -- Distance from the centre to the farthest member; 0 for a cluster of one village.
    radius_m        double precision NOT NULL CHECK (radius_m >= 0),
    population      double precision NOT NULL CHECK (population >= 0),
    observed        double precision NOT NULL CHECK (observed >= 0),
    expected        double precision NOT NULL CHECK (expected >= 0),
    -- NULL when every case of the scope lies inside the cluster (an infinite ratio).
    relative_risk   double precision CHECK (relative_risk >= 0),
    llr             double precision NOT NULL CHECK (llr >= 0),
    -- NULL when the scan ran without Monte Carlo replications.
    p_value         double precision CHECK (p_value > 0 AND p_value <= 1),
    member_codes    text[] NOT NULL CHECK (cardinality(member_codes) >= 1),
    PRIMARY KEY (result_id, rank)
);
CREATE INDEX scan_clusters_centre_idx ON scan_clusters USING gist (centre);
