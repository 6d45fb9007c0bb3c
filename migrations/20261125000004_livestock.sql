-- Slaughter points and inspections, sheep vaccination, rodent surveys (DOMAIN.md §2).

CREATE TYPE slaughter_point_kind AS ENUM ('designated', 'informal');
CREATE TYPE disposal_facility AS ENUM ('incinerator', 'pit', 'none');

CREATE TABLE slaughter_points (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                text NOT NULL UNIQUE CHECK (code <> ''),
    name                text NOT NULL CHECK (name <> ''),
    kind                slaughter_point_kind NOT NULL,
    village_id          integer NOT NULL REFERENCES villages (id),
    geom                geometry(Point, 4326) NOT NULL,
    h3_r7               bigint NOT NULL,
    h3_r8               bigint NOT NULL,
    h3_r9               bigint NOT NULL,
    licence             text,
    disposal_facility   disposal_facility NOT NULL,
    link_method         link_method NOT NULL,
    link_distance_m     double precision CHECK (link_distance_m >= 0),
    created_by          text NOT NULL DEFAULT 'system',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX slaughter_points_village_idx ON slaughter_points (village_id);
CREATE INDEX slaughter_points_geom_idx ON slaughter_points USING gist (geom);
CREATE TRIGGER slaughter_points_touch BEFORE UPDATE ON slaughter_points FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE species AS ENUM ('sheep', 'goat', 'cattle', 'camel', 'horse', 'yak', 'pig', 'other');
-- Age by dentition; animals under two years matter for the livestock indicator.
CREATE TYPE age_class AS ENUM ('under_2y', 'over_2y', 'unknown');
CREATE TYPE cyst_organ AS ENUM ('none', 'liver', 'lung', 'liver_and_lung', 'other');
CREATE TYPE disposal_method AS ENUM ('incineration', 'deep_burial', 'pit', 'chemical', 'none');

CREATE TABLE slaughter_inspections (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    point_id            bigint NOT NULL REFERENCES slaughter_points (id),
    inspected_on        date NOT NULL,
    species             species NOT NULL,
    age_class           age_class NOT NULL DEFAULT 'unknown',
    slaughtered         integer NOT NULL CHECK (slaughtered > 0),
    infected            integer NOT NULL CHECK (infected >= 0),
    organ               cyst_organ NOT NULL,
    -- Where the animals came from: livestock infection is attributed to the origin village.
    origin_village_id   integer REFERENCES villages (id),
    disposal_method     disposal_method NOT NULL,
    disposal_done       boolean NOT NULL,
    inspector           text,
    link_method         link_method,
    link_distance_m     double precision CHECK (link_distance_m >= 0),
    created_by          text NOT NULL DEFAULT 'system',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    CHECK (infected <= slaughtered),
    CHECK ((infected = 0) = (organ = 'none')),
    -- Offal cannot have been disposed of by no method.
    CHECK (NOT disposal_done OR disposal_method <> 'none'),
    CHECK (origin_village_id IS NULL OR link_method IS NOT NULL),
    UNIQUE (point_id, inspected_on, species, age_class)
);
CREATE INDEX slaughter_inspections_point_date_idx ON slaughter_inspections (point_id, inspected_on);
CREATE INDEX slaughter_inspections_origin_idx ON slaughter_inspections (origin_village_id, inspected_on);
CREATE TRIGGER slaughter_inspections_touch BEFORE UPDATE ON slaughter_inspections FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE vaccination_campaigns (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    year        smallint NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    vaccine     text NOT NULL,
    species     species NOT NULL DEFAULT 'sheep',
    starts_on   date NOT NULL,
    ends_on     date NOT NULL,
    created_by  text NOT NULL DEFAULT 'system',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK (ends_on >= starts_on)
);
CREATE TRIGGER vaccination_campaigns_touch BEFORE UPDATE ON vaccination_campaigns FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- One row per campaign and village. Immunised above target is allowed (the API warns).
CREATE TABLE vaccinations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES vaccination_campaigns (id),
    village_id      integer NOT NULL REFERENCES villages (id),
    vaccinated_on   date NOT NULL,
    target          integer NOT NULL CHECK (target >= 0),
    immunised       integer NOT NULL CHECK (immunised >= 0),
    doses           integer NOT NULL CHECK (doses >= 0),
    batch           text,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    UNIQUE (campaign_id, village_id)
);
CREATE INDEX vaccinations_village_idx ON vaccinations (village_id);
CREATE TRIGGER vaccinations_touch BEFORE UPDATE ON vaccinations FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE rodent_surveys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    surveyed_on     date NOT NULL,
    village_id      integer NOT NULL REFERENCES villages (id),
    site            text,
    geom            geometry(Point, 4326) NOT NULL,
    h3_r7           bigint NOT NULL,
    h3_r8           bigint NOT NULL,
    h3_r9           bigint NOT NULL,
    trapped         integer NOT NULL CHECK (trapped >= 0),
    dissected       integer NOT NULL CHECK (dissected >= 0),
    infected        integer NOT NULL CHECK (infected >= 0),
    species         text,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (dissected <= trapped),
    CHECK (infected <= dissected)
);
CREATE INDEX rodent_surveys_village_idx ON rodent_surveys (village_id, surveyed_on);
CREATE INDEX rodent_surveys_geom_idx ON rodent_surveys USING gist (geom);
CREATE TRIGGER rodent_surveys_touch BEFORE UPDATE ON rodent_surveys FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
