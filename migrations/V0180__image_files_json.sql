-- The file index is kept as the JSON text analyze wrote (json, not jsonb), compressed
-- with lz4. Nothing queries inside it: evaluate and the API read the whole document and
-- parse it themselves. As jsonb, PostgreSQL built a binary tree of every entry on write
-- (and printed it back to text on every read), then compressed it with pglz. On a
-- 70 000-file index (20 MB of JSON) that was 1.6 s of the recording transaction; as
-- lz4-compressed json it is 0.35 s, and reading it back 0.1 s instead of 0.5 s. The
-- conversion keeps every document (jsonb prints as valid JSON).
ALTER TABLE image_files ALTER COLUMN files TYPE json USING files::json;

-- lz4 needs a server built with it (Debian's and RDS's are); elsewhere pglz stays.
DO $$
BEGIN
    ALTER TABLE image_files ALTER COLUMN files SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available; image_files keeps the default compression';
END $$;
