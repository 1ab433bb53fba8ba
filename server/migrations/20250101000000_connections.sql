-- Connections: non-secret settings as one JSON document, secrets as one sealed blob
-- (see src/store/secrets.rs), so new settings need no migration.
CREATE TABLE connections (
    id            TEXT PRIMARY KEY NOT NULL,
    display_name  TEXT NOT NULL UNIQUE,
    group_name    TEXT NOT NULL,
    settings      TEXT NOT NULL,
    secrets       BLOB NOT NULL,
    -- Bumped on every change of settings or secrets given by a user (not on token
    -- refreshes): cached Dropbox clients are rebuilt when it moves.
    revision      INTEGER NOT NULL DEFAULT 1,
    create_time   INTEGER NOT NULL, -- unix microseconds
    update_time   INTEGER NOT NULL  -- unix microseconds
);

CREATE INDEX connections_by_group ON connections (group_name, display_name);
