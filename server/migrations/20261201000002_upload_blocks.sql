-- Resumable uploads: one row per persisted 4 MiB block instead of one growing blob, so
-- recording a piece writes that piece's blocks only (the blob was rewritten whole on
-- every piece: quadratic in the file size).
CREATE TABLE resumable_upload_blocks (
    upload  TEXT NOT NULL,     -- resumable_uploads.id_hash
    idx     INTEGER NOT NULL,  -- block number in the file (offset / 4 MiB)
    sha256  BLOB NOT NULL,     -- 32 bytes
    PRIMARY KEY (upload, idx)
) WITHOUT ROWID;

-- Uploads in progress keep their blocks: split each blob into 32-byte rows.
WITH RECURSIVE split(upload, idx, rest) AS (
    SELECT id_hash, 0, block_digests FROM resumable_uploads WHERE length(block_digests) >= 32
    UNION ALL
    SELECT upload, idx + 1, substr(rest, 33) FROM split WHERE length(rest) >= 64
)
INSERT INTO resumable_upload_blocks (upload, idx, sha256)
SELECT upload, idx, substr(rest, 1, 32) FROM split;

UPDATE resumable_uploads SET block_digests = x'';
