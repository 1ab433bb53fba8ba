-- A resumable upload belongs to the caller that started it (its name in the callers
-- file); only that caller may write, query or cancel it. '' = started without callers.
ALTER TABLE resumable_uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
