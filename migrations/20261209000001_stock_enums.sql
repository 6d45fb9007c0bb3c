-- The stock ledger's vocabulary (issue 20). New enum values are usable only after the
-- transaction that adds them commits, so they come in a migration of their own before the ledger.

-- A movement of the ledger: `receipt` (from a supplier), `transfer_out` (issued by one store to
-- another; the old `issue`), `transfer_in` (the receiving store confirms what it got), `use`
-- (handed to a village doctor for a deworming round), `adjustment` (with a reason). `stocktake`
-- (a counted balance) stays in the type for the history only: counts now write adjustments.
ALTER TYPE stock_movement_kind RENAME VALUE 'issue' TO 'transfer_out';
ALTER TYPE stock_movement_kind ADD VALUE 'transfer_in' AFTER 'transfer_out';
ALTER TYPE stock_movement_kind ADD VALUE 'use' AFTER 'transfer_in';

-- The keeper of a store (库管员): stock of the stores in their jurisdiction, nothing personal.
ALTER TYPE user_role ADD VALUE 'stock_keeper';
