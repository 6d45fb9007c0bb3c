-- Households, dogs, deworming, faecal tests and stray-dog handling (DOMAIN.md §2).
-- Every register row: created_at/updated_at/created_by, soft delete by deleted_at, a village,
-- how it was linked to that village, and for point records the H3 cells (res 7–9) of the point.

CREATE TABLE households (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id      integer NOT NULL REFERENCES villages (id),
    household_no    text NOT NULL CHECK (household_no <> ''),
    head_name       text NOT NULL CHECK (head_name <> ''),
    address         text,
    pastoral        boolean NOT NULL DEFAULT false,
    geom            geometry(Point, 4326),
    h3_r7           bigint,
    h3_r8           bigint,
    h3_r9           bigint,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    UNIQUE (household_no),
    CHECK ((geom IS NULL) = (h3_r9 IS NULL) AND (geom IS NULL) = (h3_r8 IS NULL) AND (geom IS NULL) = (h3_r7 IS NULL))
);
CREATE INDEX households_village_idx ON households (village_id);
CREATE INDEX households_geom_idx ON households USING gist (geom);
CREATE TRIGGER households_touch BEFORE UPDATE ON households FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- 家犬 tethered / semi-tethered domestic, 牧犬 herding, 流浪犬 stray (registered, e.g. sheltered).
CREATE TYPE dog_kind AS ENUM ('domestic_tethered', 'domestic_semi', 'herding', 'stray');
CREATE TYPE dog_status AS ENUM ('alive', 'dead', 'moved', 'culled');
CREATE TYPE sex AS ENUM ('male', 'female', 'unknown');

CREATE TABLE dogs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag             text NOT NULL UNIQUE CHECK (tag <> ''),
    collar_id       text UNIQUE,
    household_id    bigint REFERENCES households (id),
    village_id      integer NOT NULL REFERENCES villages (id),
    kind            dog_kind NOT NULL,
    sex             sex NOT NULL DEFAULT 'unknown',
    birth_year      smallint CHECK (birth_year BETWEEN 1990 AND 2100),
    status          dog_status NOT NULL DEFAULT 'alive',
    status_on       date,
    registered_on   date NOT NULL,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    -- A dog that is no longer alive says since when.
    CHECK (status = 'alive' OR status_on IS NOT NULL),
    CHECK (status_on IS NULL OR status_on >= registered_on)
);
CREATE INDEX dogs_village_idx ON dogs (village_id);
CREATE INDEX dogs_household_idx ON dogs (household_id);
CREATE TRIGGER dogs_touch BEFORE UPDATE ON dogs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE deworming_drug AS ENUM ('praziquantel', 'other');
CREATE TYPE deworming_method AS ENUM ('tablet', 'bait', 'collar', 'injection');

-- One row per dog per dose. village_id is the dog's village on the day, kept on the row so that
-- coverage by village and month is one index scan at province scale.
CREATE TABLE dewormings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dog_id          bigint NOT NULL REFERENCES dogs (id),
    village_id      integer NOT NULL REFERENCES villages (id),
    dosed_on        date NOT NULL,
    drug            deworming_drug NOT NULL DEFAULT 'praziquantel',
    batch           text,
    dose_mg         numeric(8, 1) CHECK (dose_mg > 0),
    method          deworming_method NOT NULL DEFAULT 'tablet',
    given_by        text,
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    UNIQUE (dog_id, dosed_on)
);
CREATE INDEX dewormings_village_date_idx ON dewormings (village_id, dosed_on);
CREATE TRIGGER dewormings_touch BEFORE UPDATE ON dewormings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE faecal_method AS ENUM ('copro_elisa', 'copro_pcr', 'arecoline', 'other');
CREATE TYPE test_result AS ENUM ('positive', 'negative', 'inconclusive');

CREATE TABLE faecal_tests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sample_id       text NOT NULL UNIQUE CHECK (sample_id <> ''),
    dog_id          bigint REFERENCES dogs (id),
    household_id    bigint REFERENCES households (id),
    village_id      integer NOT NULL REFERENCES villages (id),
    sampled_on      date NOT NULL,
    tested_on       date,
    method          faecal_method NOT NULL DEFAULT 'copro_elisa',
    result          test_result NOT NULL,
    lab             text,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (tested_on IS NULL OR tested_on >= sampled_on)
);
CREATE INDEX faecal_tests_village_date_idx ON faecal_tests (village_id, sampled_on);
CREATE INDEX faecal_tests_dog_idx ON faecal_tests (dog_id);
CREATE TRIGGER faecal_tests_touch BEFORE UPDATE ON faecal_tests FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE stray_action AS ENUM ('observed', 'captured', 'sheltered', 'euthanised', 'adopted');

CREATE TABLE stray_dog_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_on     date NOT NULL,
    village_id      integer NOT NULL REFERENCES villages (id),
    geom            geometry(Point, 4326) NOT NULL,
    h3_r7           bigint NOT NULL,
    h3_r8           bigint NOT NULL,
    h3_r9           bigint NOT NULL,
    n_dogs          integer NOT NULL CHECK (n_dogs > 0),
    action          stray_action NOT NULL,
    reported_by     text,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX stray_dog_events_village_date_idx ON stray_dog_events (village_id, occurred_on);
CREATE INDEX stray_dog_events_geom_idx ON stray_dog_events USING gist (geom);
CREATE TRIGGER stray_dog_events_touch BEFORE UPDATE ON stray_dog_events FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
