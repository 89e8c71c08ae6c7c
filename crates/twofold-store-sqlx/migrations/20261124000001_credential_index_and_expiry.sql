-- The credential index: every passkey credential id bound to at most one user
-- (WebAuthn §7.1 step 22), written in the same transaction as the user's record.
-- Ids are unpadded base64url.
CREATE TABLE IF NOT EXISTS {credentials} (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "{prefix}credentials_user" ON {credentials} (user_id);

-- When the earliest thing in a user record lapses (a pending setup, an open
-- challenge): the sweep finds records to clean through this index.
ALTER TABLE {users} ADD COLUMN expires_at BIGINT;
CREATE INDEX IF NOT EXISTS "{prefix}users_expires_at" ON {users} (expires_at);

-- Username-less ceremonies are counted per organisation (their cap) and purged by expiry.
ALTER TABLE {ceremonies} ADD COLUMN organization TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS "{prefix}ceremonies_organization" ON {ceremonies} (organization);
CREATE INDEX IF NOT EXISTS "{prefix}ceremonies_expires_at" ON {ceremonies} (expires_at);
