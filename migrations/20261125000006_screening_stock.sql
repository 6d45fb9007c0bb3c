-- Screening campaigns, health education, and the stock of drugs, vaccine and kits (DOMAIN.md §2).

CREATE TYPE screening_method AS ENUM ('ultrasound', 'serology_elisa');
CREATE TYPE screening_group AS ENUM ('general', 'school_children');

-- One row per village and campaign day. School surveys are children aged 6–12.
CREATE TABLE screening_campaigns (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id      integer NOT NULL REFERENCES villages (id),
    screened_on     date NOT NULL,
    method          screening_method NOT NULL,
    target_group    screening_group NOT NULL,
    min_age         smallint NOT NULL CHECK (min_age >= 3),
    max_age         smallint CHECK (max_age <= 120),
    screened        integer NOT NULL CHECK (screened >= 0),
    positives       integer NOT NULL CHECK (positives >= 0),
    team            text,
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (positives <= screened),
    CHECK (max_age IS NULL OR max_age >= min_age),
    CHECK (target_group <> 'school_children' OR (min_age >= 6 AND max_age IS NOT NULL AND max_age <= 12)),
    UNIQUE (village_id, screened_on, method, target_group)
);
CREATE INDEX screening_campaigns_village_idx ON screening_campaigns (village_id, screened_on);
CREATE TRIGGER screening_campaigns_touch BEFORE UPDATE ON screening_campaigns FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE health_education (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id      integer NOT NULL REFERENCES villages (id),
    held_on         date NOT NULL,
    activity        text NOT NULL,
    participants    integer NOT NULL CHECK (participants >= 0),
    -- Knowledge survey (知晓率): respondents and those who answered correctly.
    respondents     integer NOT NULL DEFAULT 0 CHECK (respondents >= 0),
    aware           integer NOT NULL DEFAULT 0 CHECK (aware >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (aware <= respondents)
);
CREATE INDEX health_education_village_idx ON health_education (village_id, held_on);
CREATE TRIGGER health_education_touch BEFORE UPDATE ON health_education FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE stock_kind AS ENUM ('praziquantel', 'albendazole', 'vaccine', 'elisa_kit', 'other');

CREATE TABLE stock_items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code <> ''),
    name        text NOT NULL CHECK (name <> ''),
    kind        stock_kind NOT NULL,
    unit        text NOT NULL,
    created_by  text NOT NULL DEFAULT 'system',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE TRIGGER stock_items_touch BEFORE UPDATE ON stock_items FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE stock_movement_kind AS ENUM ('receipt', 'issue', 'adjustment', 'stocktake');

-- The balance of an item (per batch) is the signed sum of its movements: receipts add,
-- issues subtract, adjustments carry their own sign; a stocktake records a counted balance.
CREATE TABLE stock_movements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id         bigint NOT NULL REFERENCES stock_items (id),
    moved_on        date NOT NULL,
    kind            stock_movement_kind NOT NULL,
    quantity        integer NOT NULL,
    batch           text NOT NULL,
    expires_on      date,
    -- Issues go to a township (health centre) or a village.
    township_code   char(9) REFERENCES townships (code),
    village_id      integer REFERENCES villages (id),
    scanned_barcode text,
    note            text,
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (kind = 'adjustment' OR quantity >= 0),
    CHECK (kind <> 'issue' OR township_code IS NOT NULL OR village_id IS NOT NULL)
);
CREATE INDEX stock_movements_item_idx ON stock_movements (item_id, moved_on);
CREATE TRIGGER stock_movements_touch BEFORE UPDATE ON stock_movements FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
