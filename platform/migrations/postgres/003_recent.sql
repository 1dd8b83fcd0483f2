-- Rows by the time they changed: a bounded verify (xckit verify --since, the
-- cutover's and rollback's verify_since) reads only what changed in its window
-- instead of every row, so the downtime window does not grow with the history.
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX accounts_updated ON accounts (updated_at);
CREATE INDEX agreements_created ON agreements (created_at);
