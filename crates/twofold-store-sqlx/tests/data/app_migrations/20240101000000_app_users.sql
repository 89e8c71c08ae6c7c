-- The application's own schema, migrated by its own `sqlx::migrate!()`: the
-- fixture of tests/migrations.rs. Valid on SQLite and PostgreSQL.
CREATE TABLE app_users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL
);
