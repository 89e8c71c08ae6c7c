-- twofold's records: one row per user, ceremony and organisation. The record is
-- JSON text; `version` makes every update conditional.
CREATE TABLE IF NOT EXISTS twofold_users (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS twofold_ceremonies (
    id TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS twofold_organizations (
    id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);
