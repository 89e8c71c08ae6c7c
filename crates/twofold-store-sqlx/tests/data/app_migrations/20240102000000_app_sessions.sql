-- A second application migration, so that the application's history is more
-- than one row.
CREATE TABLE app_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL
);
