-- The batches of key usage already written, by the id the flush gave each one: a batch whose
-- commit's outcome was lost (the connection dropped while it committed) is kept and written
-- again, and this row makes the second write a no-op, so no count is added twice. Kept a day.
CREATE TABLE usage_flush_batches (
    id TEXT PRIMARY KEY NOT NULL,
    written_at TIMESTAMP NOT NULL
);
