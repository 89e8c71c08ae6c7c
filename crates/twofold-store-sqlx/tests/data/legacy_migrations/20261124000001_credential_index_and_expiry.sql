-- The credential index: every passkey credential id bound to at most one user
-- (WebAuthn §7.1 step 22), written in the same transaction as the user's record.
-- Ids are unpadded base64url.
CREATE TABLE IF NOT EXISTS twofold_credentials (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS twofold_credentials_user ON twofold_credentials (user_id);

-- When the earliest thing in a user record lapses (a pending setup, an open
-- challenge): the sweep finds records to clean through this index.
ALTER TABLE twofold_users ADD COLUMN expires_at BIGINT;
CREATE INDEX IF NOT EXISTS twofold_users_expires_at ON twofold_users (expires_at);

-- Username-less ceremonies are counted per organisation (their cap) and purged by expiry.
ALTER TABLE twofold_ceremonies ADD COLUMN organization TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS twofold_ceremonies_organization ON twofold_ceremonies (organization);
CREATE INDEX IF NOT EXISTS twofold_ceremonies_expires_at ON twofold_ceremonies (expires_at);
