-- twofold's records: one row per user, ceremony and organisation. The record is
-- JSON text; `version` makes every update conditional.
--
-- A template: {users}, {ceremonies}, {organizations} and {credentials} become the
-- configured, quoted table names, {prefix} the table prefix (src/migrate.rs).
CREATE TABLE IF NOT EXISTS {users} (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS {ceremonies} (
    id TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS {organizations} (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);
