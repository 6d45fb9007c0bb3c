-- Offline field entry: a device queues a record with a client-generated id (the request's
-- Idempotency-Key) and may send it more than once; the first send creates the record, every
-- resend finds it here and creates nothing.
CREATE TABLE client_writes (
    key         text PRIMARY KEY CHECK (length(key) BETWEEN 8 AND 128),
    user_id     bigint NOT NULL REFERENCES users (id),
    register    text NOT NULL,
    record_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
