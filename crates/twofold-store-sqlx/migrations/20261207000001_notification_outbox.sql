-- When a user record's next undelivered security notification is due: the
-- delivery worker finds records with something to send through this index.
-- The notifications themselves live in the record, written by the same
-- conditional UPDATE as the change they report.
ALTER TABLE {users} ADD COLUMN notify_at BIGINT;
CREATE INDEX IF NOT EXISTS "{prefix}users_notify_at" ON {users} (notify_at);
