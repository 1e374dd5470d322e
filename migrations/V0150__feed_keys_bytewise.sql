-- Feed keys compare as bytes (COLLATE "C"). Every advisory, affected package and change
-- key a sync writes is a B-tree insert (and every lookup a B-tree descent) on these text
-- columns; under the database's C.UTF-8 collation PostgreSQL 15 compares them with
-- strcoll (it treats only "C" and "POSIX" as byte order), copying both keys into
-- NUL-terminated buffers first. glibc's C.UTF-8 orders by code point, which for UTF-8 is
-- byte order, so nothing sorts differently here; on a database with a linguistic default
-- collation these columns now sort by bytes (no query shows them in collation order:
-- the matcher and the feed writer only compare them for equality; feed_changes is listed
-- ordered by key for tests). Comparisons with other text (image package names, query
-- parameters) take this column's collation, which changes no equality. Only the indexes
-- are rebuilt (the column type is unchanged, so the tables are not rewritten); old code
-- runs unchanged against the new columns.

ALTER TABLE vulnerabilities
    ALTER COLUMN feed TYPE text COLLATE "C",
    ALTER COLUMN scope TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";

ALTER TABLE vulnerability_packages
    ALTER COLUMN feed TYPE text COLLATE "C",
    ALTER COLUMN scope TYPE text COLLATE "C",
    ALTER COLUMN vuln_id TYPE text COLLATE "C",
    ALTER COLUMN namespace TYPE text COLLATE "C",
    ALTER COLUMN package TYPE text COLLATE "C";

ALTER TABLE feed_changes
    ALTER COLUMN namespace TYPE text COLLATE "C",
    ALTER COLUMN package TYPE text COLLATE "C",
    ALTER COLUMN vuln_id TYPE text COLLATE "C";
