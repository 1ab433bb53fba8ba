-- Resumable uploads (StartResumableUpload / WriteResumableUpload / QueryUpload): what
-- lets an upload go on after a lost stream or a restart. Whole 4 MiB blocks only, so the
-- block digests below are exactly the bytes Dropbox's session holds.
CREATE TABLE resumable_uploads (
    id_hash         TEXT PRIMARY KEY NOT NULL, -- SHA-256 of the upload id: the id itself is a capability
    connection_id   TEXT NOT NULL,
    target          TEXT NOT NULL,             -- JSON: path, overwrite policy, size, hash, ...
    session_id      TEXT NOT NULL,             -- Dropbox upload session
    persisted_size  INTEGER NOT NULL,
    block_digests   BLOB NOT NULL,             -- 32 bytes per persisted 4 MiB block
    pending_offset  INTEGER,                   -- an append in flight: where it starts ...
    pending_digests BLOB,                      -- ... and its blocks' digests
    result          TEXT,                      -- JSON outcome once finished
    create_time     INTEGER NOT NULL,          -- unix microseconds
    expire_time     INTEGER NOT NULL           -- unix microseconds
);
CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expire_time);
