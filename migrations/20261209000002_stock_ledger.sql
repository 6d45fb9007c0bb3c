-- The stock system (issue 20, docs/STOCK.md): stores, lots, barcodes, transfers, the append-only
-- ledger (`stock_movements`, evolved in place: every row kept), stock on hand derived from it and
-- never negative, and stock counts (盘点). Rows written before this migration become ledger rows of
-- the store they were in: receipts, adjustments and stocktakes at the county CDC's store, issues to
-- a township as transfers to its health centre's store (received the same day), issues to a
-- village as tablets handed to the village (`use`).

-- ── Catalogue ──────────────────────────────────────────────────────────────────────────────
ALTER TABLE stock_items
    -- Base units (片, 头份, 人份) in the pack the item usually comes in.
    ADD COLUMN pack_size      integer NOT NULL DEFAULT 1 CHECK (pack_size > 0),
    -- Base units one dog dose takes (praziquantel: tablets per dose); the reconciliation's factor.
    ADD COLUMN units_per_dose numeric(6, 2) CHECK (units_per_dose > 0),
    ADD COLUMN active         boolean NOT NULL DEFAULT true;

CREATE TABLE stock_lots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id     bigint NOT NULL REFERENCES stock_items (id),
    batch       text NOT NULL CHECK (batch <> '' AND length(batch) <= 40),
    -- NULL only for lots carried over from rows that had no expiry.
    expires_on  date,
    created_by  text NOT NULL DEFAULT 'system',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (item_id, batch)
);

-- What a scanned code names (domain::barcode): `gtin` a GTIN-14 (EAN-13 left-padded), `cn_drug` the
-- 7-digit product prefix of a 20-digit drug traceability code, `vet_drug` a 24-digit veterinary
-- drug code, which names no product by itself and is tied to the lot it was received with.
CREATE TYPE stock_code_kind AS ENUM ('gtin', 'cn_drug', 'vet_drug');
CREATE TABLE stock_barcodes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           stock_code_kind NOT NULL,
    code           text NOT NULL,
    item_id        bigint NOT NULL REFERENCES stock_items (id),
    -- Base units one scan of the code counts (a box of 100 tablets: 100).
    pack_quantity  integer NOT NULL DEFAULT 1 CHECK (pack_quantity > 0),
    lot_id         bigint REFERENCES stock_lots (id),
    created_by     text NOT NULL DEFAULT 'system',
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, code),
    CHECK (kind <> 'gtin' OR code ~ '^[0-9]{14}$'),
    CHECK (kind <> 'cn_drug' OR code ~ '^[0-9]{7}$'),
    CHECK (kind <> 'vet_drug' OR (code ~ '^[0-9]{24}$' AND lot_id IS NOT NULL))
);

-- ── Stores ─────────────────────────────────────────────────────────────────────────────────
-- county CDC, the animal husbandry and veterinary station (畜牧兽医站, often the dogs' PZQ),
-- township health centres, village clinics. The place code puts a store in a jurisdiction.
CREATE TYPE stock_store_kind AS ENUM ('county_cdc', 'vet_station', 'township_centre', 'village_clinic');
CREATE TABLE stock_stores (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    kind        stock_store_kind NOT NULL,
    place_code  text NOT NULL CHECK (place_code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    active      boolean NOT NULL DEFAULT true,
    created_by  text NOT NULL DEFAULT 'system',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'village_clinic' OR length(place_code) = 12),
    CHECK (kind <> 'township_centre' OR length(place_code) = 9),
    CHECK (kind NOT IN ('county_cdc', 'vet_station') OR length(place_code) IN (6, 9))
);
CREATE INDEX stock_stores_place_idx ON stock_stores (place_code text_pattern_ops);
CREATE TRIGGER stock_stores_touch BEFORE UPDATE ON stock_stores FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A store's place is a county, township or village that exists.
CREATE FUNCTION stock_store_place_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM counties WHERE code = NEW.place_code)
         OR EXISTS (SELECT 1 FROM townships WHERE code = NEW.place_code)
         OR EXISTS (SELECT 1 FROM villages WHERE code = NEW.place_code)) THEN
        RAISE EXCEPTION 'no county, township or village has the code %', NEW.place_code
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'stock_stores_place_code_fkey';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER stock_stores_place BEFORE INSERT OR UPDATE OF place_code ON stock_stores
    FOR EACH ROW EXECUTE FUNCTION stock_store_place_exists();

-- ── Transfers ──────────────────────────────────────────────────────────────────────────────
-- Issued by one store (its `transfer_out` rows), in transit until the other confirms what it got
-- (one `stock_transfer_receipts` row and its `transfer_in` rows). Both append-only.
CREATE TABLE stock_transfers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_store_id  bigint NOT NULL REFERENCES stock_stores (id),
    to_store_id    bigint NOT NULL REFERENCES stock_stores (id),
    issued_on      date NOT NULL,
    reference      text CHECK (length(reference) <= 100),
    note           text CHECK (length(note) <= 500),
    created_by     text NOT NULL DEFAULT 'system',
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (from_store_id <> to_store_id)
);
CREATE INDEX stock_transfers_to_idx ON stock_transfers (to_store_id, issued_on);
CREATE INDEX stock_transfers_from_idx ON stock_transfers (from_store_id, issued_on);

CREATE TABLE stock_transfer_receipts (
    transfer_id  bigint PRIMARY KEY REFERENCES stock_transfers (id),
    received_on  date NOT NULL,
    -- Says why the quantity received differs from the quantity sent, when it does.
    note         text CHECK (length(note) <= 500),
    created_by   text NOT NULL DEFAULT 'system',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- ── Counts (盘点) ──────────────────────────────────────────────────────────────────────────
CREATE TYPE stock_reason AS ENUM (
    'count_correction', 'expired', 'damaged', 'lost', 'returned', 'opening_balance'
);

CREATE TABLE stock_counts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        bigint NOT NULL REFERENCES stock_stores (id),
    -- Book quantities hidden from the counter while the count is open.
    blind           boolean NOT NULL DEFAULT false,
    note            text CHECK (length(note) <= 500),
    opened_by       text NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    finalised_by    text,
    finalised_at    timestamptz,
    cancelled_at    timestamptz,
    CHECK (finalised_at IS NULL OR cancelled_at IS NULL)
);
-- One open count per store.
CREATE UNIQUE INDEX stock_counts_one_open ON stock_counts (store_id)
    WHERE finalised_at IS NULL AND cancelled_at IS NULL;

-- One line per lot: the book quantity frozen when the count opened (or when the line was found
-- stale and reset for a recount), and what was counted.
CREATE TABLE stock_count_lines (
    count_id        bigint NOT NULL REFERENCES stock_counts (id),
    lot_id          bigint NOT NULL REFERENCES stock_lots (id),
    book_quantity   integer NOT NULL CHECK (book_quantity >= 0),
    -- The ledger row that last moved the lot when its book was frozen (stock_on_hand's
    -- last_movement_id; NULL when the store held none of it): any later row means the lot moved
    -- during the count, even when the quantity came back to the book.
    book_movement_id bigint,
    counted         integer CHECK (counted >= 0),
    reason          stock_reason,
    -- Set when finalising found the lot moved since its book quantity was frozen.
    recount         boolean NOT NULL DEFAULT false,
    counted_by      text,
    counted_at      timestamptz,
    PRIMARY KEY (count_id, lot_id)
);

-- Every scan or typed entry of a count, by the client's id (a resend creates nothing), and the
-- serial key of a serialised code (one physical pack counts once per count).
CREATE TABLE stock_count_entries (
    count_id    bigint NOT NULL REFERENCES stock_counts (id),
    client_id   text NOT NULL CHECK (length(client_id) BETWEEN 8 AND 64),
    lot_id      bigint NOT NULL REFERENCES stock_lots (id),
    -- `scan` adds quantity to the line, `set` makes it the line's count.
    mode        text NOT NULL CHECK (mode IN ('scan', 'set')),
    quantity    integer NOT NULL CHECK (quantity >= 0),
    code        text CHECK (length(code) <= 200),
    serial_key  text,
    -- A recount of the line voids its earlier entries (their serials may be scanned again).
    void        boolean NOT NULL DEFAULT false,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (count_id, client_id)
);
CREATE UNIQUE INDEX stock_count_entries_serial ON stock_count_entries (count_id, serial_key)
    WHERE serial_key IS NOT NULL AND NOT void;

-- ── The ledger ─────────────────────────────────────────────────────────────────────────────
-- Soft-deleted rows of before are kept aside, not in the ledger.
CREATE TABLE stock_movements_deleted AS
    SELECT * FROM stock_movements WHERE deleted_at IS NOT NULL;
DELETE FROM stock_movements WHERE deleted_at IS NOT NULL;

DROP TRIGGER stock_movements_touch ON stock_movements;
ALTER TABLE stock_movements
    ADD COLUMN store_id     bigint REFERENCES stock_stores (id),
    ADD COLUMN lot_id       bigint REFERENCES stock_lots (id),
    ADD COLUMN transfer_id  bigint REFERENCES stock_transfers (id),
    ADD COLUMN count_id     bigint REFERENCES stock_counts (id),
    ADD COLUMN reason       stock_reason,
    ADD COLUMN supplier     text CHECK (length(supplier) <= 100),
    ADD COLUMN reference    text CHECK (length(reference) <= 100);
ALTER TABLE stock_movements DROP CONSTRAINT IF EXISTS stock_movements_check;
ALTER TABLE stock_movements DROP CONSTRAINT IF EXISTS stock_movements_check1;

-- A receipt or issue of nothing (the old table allowed a quantity of 0) moved nothing: it stays
-- as an adjustment of 0 with its note, since the ledger's kinds now carry their sign.
UPDATE stock_movements
SET kind = 'adjustment',
    note = '升级：原为数量 0 的' || CASE kind WHEN 'receipt' THEN '入库' ELSE '出库' END || '记录'
           || coalesce('；' || note, '')
WHERE quantity = 0 AND kind IN ('receipt', 'transfer_out');

-- The conversion, set-based (a province's history is hundreds of thousands of rows).
-- Each old row's county: that of its township or village, else the database's first county.
CREATE TEMP TABLE legacy ON COMMIT DROP AS
SELECT m.id, m.kind::text AS kind, m.item_id, m.quantity, m.township_code, m.village_id,
       left(coalesce(nullif(m.batch, ''), '未注明'), 40) AS batch,
       coalesce(left(m.township_code, 6), left(v.code, 6), (SELECT min(code) FROM counties)) AS county
FROM stock_movements m LEFT JOIN villages v ON v.id = m.village_id;

-- The lot: one per item and batch; the earliest expiry any row gave it.
INSERT INTO stock_lots (item_id, batch, expires_on, created_by)
SELECT l.item_id, l.batch, min(m.expires_on), min(m.created_by)
FROM legacy l JOIN stock_movements m ON m.id = l.id
GROUP BY l.item_id, l.batch;

-- The county CDC's store of every county the rows belong to, and the health centre's store of
-- every township that rows were issued to.
INSERT INTO stock_stores (code, name, kind, place_code)
SELECT 'CDC-' || c.code, c.name || '疾病预防控制中心', 'county_cdc', c.code
FROM counties c WHERE c.code IN (SELECT county FROM legacy);
INSERT INTO stock_stores (code, name, kind, place_code)
SELECT 'THC-' || t.code, t.name || '卫生院', 'township_centre', t.code
FROM townships t
WHERE t.code IN (SELECT township_code FROM legacy WHERE kind = 'transfer_out');

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM legacy WHERE county IS NULL) THEN
        RAISE EXCEPTION 'stock movements without a county to put their store in';
    END IF;
END;
$$;

ALTER TABLE legacy ADD COLUMN store_id bigint, ADD COLUMN lot_id bigint, ADD COLUMN dest bigint;
CREATE INDEX ON legacy (id);
ANALYZE legacy;
UPDATE legacy l SET
    store_id = (SELECT s.id FROM stock_stores s WHERE s.kind = 'county_cdc' AND s.place_code = l.county),
    lot_id = (SELECT x.id FROM stock_lots x WHERE x.item_id = l.item_id AND x.batch = l.batch),
    dest = CASE WHEN l.kind = 'transfer_out' AND l.township_code IS NOT NULL THEN
        (SELECT min(s.id) FROM stock_stores s
         WHERE s.kind = 'township_centre' AND s.place_code = l.township_code) END;

-- An issue to a township: a transfer from the CDC's store to the health centre's, received the
-- same day (one transfer per old row; the old row's id is kept on it while the rows are made).
ALTER TABLE stock_transfers ADD COLUMN legacy_id bigint;
CREATE INDEX stock_transfers_legacy_idx ON stock_transfers (legacy_id);
INSERT INTO stock_transfers (from_store_id, to_store_id, issued_on, note, created_by, legacy_id)
SELECT l.store_id, l.dest, m.moved_on, m.note, m.created_by, m.id
FROM legacy l JOIN stock_movements m ON m.id = l.id WHERE l.dest IS NOT NULL;
INSERT INTO stock_transfer_receipts (transfer_id, received_on, created_by)
SELECT t.id, t.issued_on, t.created_by FROM stock_transfers t WHERE t.legacy_id IS NOT NULL;

UPDATE stock_movements m SET
    store_id = l.store_id,
    lot_id = l.lot_id,
    transfer_id = t.id,
    -- An issue to a village: the tablets handed to it.
    kind = CASE WHEN l.kind = 'transfer_out' AND l.dest IS NULL THEN 'use' ELSE m.kind END,
    quantity = CASE WHEN l.kind = 'transfer_out' THEN -abs(m.quantity) ELSE m.quantity END,
    reason = CASE WHEN l.kind IN ('adjustment', 'stocktake') THEN 'count_correction'::stock_reason END
FROM legacy l LEFT JOIN stock_transfers t ON t.legacy_id = l.id
WHERE l.id = m.id;

INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, expires_on, store_id,
                             lot_id, transfer_id, note, created_by, created_at)
SELECT m.item_id, m.moved_on, 'transfer_in', -m.quantity, m.batch, m.expires_on, t.to_store_id,
       m.lot_id, t.id, m.note, m.created_by, m.created_at
FROM stock_movements m JOIN stock_transfers t ON t.legacy_id = m.id;
DROP INDEX stock_transfers_legacy_idx;
ALTER TABLE stock_transfers DROP COLUMN legacy_id;

-- A stocktake (a counted balance) becomes the adjustment that brought the book to it: walked in
-- order only over the store × lot pairs that have one.
DO $$
DECLARE
    m record;
    pair text := '';
    bal integer := 0;
BEGIN
    FOR m IN
        SELECT x.id, x.kind::text AS kind, x.quantity, x.store_id || ':' || x.lot_id AS k
        FROM stock_movements x
        WHERE (x.store_id, x.lot_id) IN (
            SELECT y.store_id, y.lot_id FROM stock_movements y WHERE y.kind = 'stocktake')
        ORDER BY x.store_id, x.lot_id, x.moved_on, x.id
    LOOP
        IF m.k <> pair THEN
            pair := m.k;
            bal := 0;
        END IF;
        IF m.kind = 'stocktake' THEN
            -- A stocktake that matched the book stays as an adjustment of 0: the row is history.
            UPDATE stock_movements SET kind = 'adjustment', quantity = m.quantity - bal WHERE id = m.id;
            bal := m.quantity;
        ELSE
            bal := bal + m.quantity;
        END IF;
    END LOOP;
END;
$$;

-- A history that ends below zero (issues recorded without their receipt) gets one opening
-- adjustment that brings the lot to zero, so that the book starts from what is possible.
INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, store_id, lot_id, reason, note)
SELECT l.item_id, current_date, 'adjustment', -b.total, l.batch, b.store_id, l.id, 'opening_balance',
       '升级：历史记录结存为负，补记期初调整 (migration: the history ended below zero)'
FROM (SELECT store_id, lot_id, sum(quantity) AS total FROM stock_movements
      GROUP BY store_id, lot_id HAVING sum(quantity) < 0) b
JOIN stock_lots l ON l.id = b.lot_id;

ALTER TABLE stock_movements
    ALTER COLUMN store_id SET NOT NULL,
    ALTER COLUMN lot_id SET NOT NULL,
    DROP COLUMN updated_at,
    DROP COLUMN deleted_at,
    ADD CONSTRAINT stock_movements_no_stocktake CHECK (kind <> 'stocktake'),
    ADD CONSTRAINT stock_movements_sign CHECK (CASE kind
        WHEN 'receipt' THEN quantity > 0
        WHEN 'transfer_out' THEN quantity < 0
        WHEN 'transfer_in' THEN quantity >= 0
        WHEN 'use' THEN quantity < 0
        ELSE true END),
    ADD CONSTRAINT stock_movements_transfer CHECK (
        (kind IN ('transfer_out', 'transfer_in')) = (transfer_id IS NOT NULL)),
    ADD CONSTRAINT stock_movements_use_village CHECK (kind <> 'use' OR village_id IS NOT NULL),
    ADD CONSTRAINT stock_movements_adjustment_reason CHECK (kind <> 'adjustment' OR reason IS NOT NULL);
-- The lot's batch and expiry live on the lot now; the columns stay as the row's history.
ALTER TABLE stock_movements ALTER COLUMN batch DROP NOT NULL;
CREATE INDEX stock_movements_store_lot_idx ON stock_movements (store_id, lot_id, id);
CREATE INDEX stock_movements_village_idx ON stock_movements (village_id, moved_on) WHERE village_id IS NOT NULL;
CREATE INDEX stock_movements_transfer_idx ON stock_movements (transfer_id) WHERE transfer_id IS NOT NULL;
CREATE UNIQUE INDEX stock_movements_transfer_in_once ON stock_movements (transfer_id, lot_id)
    WHERE kind = 'transfer_in';

-- ── Stock on hand: derived from the ledger, never negative ────────────────────────────────
CREATE TABLE stock_on_hand (
    store_id  bigint NOT NULL REFERENCES stock_stores (id),
    lot_id    bigint NOT NULL REFERENCES stock_lots (id),
    quantity  integer NOT NULL CONSTRAINT stock_on_hand_not_negative CHECK (quantity >= 0),
    -- The ledger row that last moved it (a count compares it with the row it froze).
    last_movement_id bigint NOT NULL,
    PRIMARY KEY (store_id, lot_id)
);
INSERT INTO stock_on_hand (store_id, lot_id, quantity, last_movement_id)
SELECT store_id, lot_id, sum(quantity), max(id) FROM stock_movements GROUP BY store_id, lot_id;

-- Every new ledger row moves its store × lot in the same statement. A row that would take the lot
-- below zero, or issue or use a lot past its expiry, is refused here, whoever writes it; the
-- DETAIL is JSON for the service to word (lot, batch, what is available, the expiry).
CREATE FUNCTION stock_movement_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    have integer;
    l stock_lots;
BEGIN
    SELECT * INTO l FROM stock_lots WHERE id = NEW.lot_id;
    IF l.item_id <> NEW.item_id THEN
        RAISE EXCEPTION 'lot % is not of item %', NEW.lot_id, NEW.item_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_lot_item';
    END IF;
    IF NEW.kind IN ('transfer_out', 'use') AND l.expires_on IS NOT NULL AND l.expires_on < NEW.moved_on THEN
        RAISE EXCEPTION 'lot % expired on %', l.batch, l.expires_on
            USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_lot_expired',
                  DETAIL = json_build_object('lot_id', l.id, 'batch', l.batch,
                                             'expires_on', l.expires_on)::text;
    END IF;
    SELECT quantity INTO have FROM stock_on_hand
    WHERE store_id = NEW.store_id AND lot_id = NEW.lot_id FOR UPDATE;
    IF coalesce(have, 0) + NEW.quantity < 0 THEN
        RAISE EXCEPTION 'lot % has % on hand, % asked', l.batch, coalesce(have, 0), -NEW.quantity
            USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_on_hand_not_negative',
                  DETAIL = json_build_object('lot_id', l.id, 'batch', l.batch,
                                             'available', coalesce(have, 0),
                                             'asked', -NEW.quantity)::text;
    END IF;
    -- (An upsert would check the proposed row, a negative quantity, against the CHECK before
    -- it finds the conflict: a row taking stock out only ever updates, and its row exists.)
    IF NEW.quantity < 0 THEN
        UPDATE stock_on_hand SET quantity = quantity + NEW.quantity, last_movement_id = NEW.id
        WHERE store_id = NEW.store_id AND lot_id = NEW.lot_id;
    ELSE
        INSERT INTO stock_on_hand (store_id, lot_id, quantity, last_movement_id)
        VALUES (NEW.store_id, NEW.lot_id, NEW.quantity, NEW.id)
        ON CONFLICT (store_id, lot_id) DO UPDATE
            SET quantity = stock_on_hand.quantity + EXCLUDED.quantity,
                last_movement_id = EXCLUDED.last_movement_id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER stock_movements_apply BEFORE INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movement_apply();

-- The ledger, its transfers and the on-hand table change only through new ledger rows.
CREATE FUNCTION stock_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: % on % refused (a correction is a new movement)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER stock_movements_no_change BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_is_append_only();
CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION stock_ledger_is_append_only();
CREATE TRIGGER stock_transfers_no_change BEFORE UPDATE OR DELETE ON stock_transfers
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_is_append_only();
CREATE TRIGGER stock_transfers_no_truncate BEFORE TRUNCATE ON stock_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION stock_ledger_is_append_only();
CREATE TRIGGER stock_transfer_receipts_no_change BEFORE UPDATE OR DELETE ON stock_transfer_receipts
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_is_append_only();
CREATE TRIGGER stock_transfer_receipts_no_truncate BEFORE TRUNCATE ON stock_transfer_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION stock_ledger_is_append_only();

-- Only the ledger's trigger writes stock_on_hand: any other change is refused.
CREATE FUNCTION stock_on_hand_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'stock on hand is derived from the ledger: write a movement instead'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
CREATE TRIGGER stock_on_hand_guard BEFORE INSERT OR UPDATE OR DELETE ON stock_on_hand
    FOR EACH ROW EXECUTE FUNCTION stock_on_hand_guard();

-- Data versions of the new tables (caches: the reconciliation, the stock pages).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'stock_lots', 'stock_barcodes', 'stock_stores', 'stock_transfers',
        'stock_transfer_receipts', 'stock_counts', 'stock_count_lines', 'stock_on_hand'
    ] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
             FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()',
            t || '_data_version', t);
        INSERT INTO data_versions (table_name) VALUES (t) ON CONFLICT DO NOTHING;
    END LOOP;
END;
$$;
