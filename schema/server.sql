-- Server actor (singleton): signing keys and server-wide settings.
-- Append-only: never edit a released migration; add the next number.

-- migration 1: signing keys and registration tokens
CREATE TABLE signing_keys (
  key_id     TEXT PRIMARY KEY,        -- "ed25519:<version>"
  seed       BLOB NOT NULL,           -- the 32-byte Ed25519 seed
  created_ts INTEGER NOT NULL,
  expired_ts INTEGER                  -- NULL for the current key; set when rotated out
);
-- At most one current key.
CREATE UNIQUE INDEX signing_keys_current ON signing_keys ((expired_ts IS NULL)) WHERE expired_ts IS NULL;

-- Registration tokens for REGISTRATION_MODE=token (https://spec.matrix.org/v1.19/client-server-api/#token-authenticated-registration).
CREATE TABLE registration_tokens (
  token        TEXT PRIMARY KEY,
  uses_allowed INTEGER,               -- NULL: unlimited
  pending      INTEGER NOT NULL DEFAULT 0,
  completed    INTEGER NOT NULL DEFAULT 0,
  expiry_time  INTEGER                -- ms since the epoch; NULL: never expires
);
