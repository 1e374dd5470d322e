-- analyze now compresses the file index itself (an lz4 frame of the same JSON text) and
-- stores it as bytea in files_lz4. Sending the JSON (13 MB on the large benchmark image)
-- had PostgreSQL receive, validate and compress it inside the recording transaction:
-- 85 ms of the 0.48 s it took to analyse an image whose base layers were staged already;
-- the compressed document is a fifth of the size and PostgreSQL only stores it. STORAGE
-- EXTERNAL: the bytes are compressed already, so TOAST does not try again.
--
-- Rollout (infra/README.md): this only adds, but the new analyze leaves files NULL, which
-- evaluate and the API of before this release cannot read. The template updates them
-- before analyze (AnalyzeFunction depends on both). Readers take files when it is set,
-- else files_lz4, so an analyze of before this release (during the update, or rolled
-- back) that records over a row writes a document that wins over the stale compressed one.
ALTER TABLE image_files
    ALTER COLUMN files DROP NOT NULL,
    ADD COLUMN files_lz4 bytea;
ALTER TABLE image_files ALTER COLUMN files_lz4 SET STORAGE EXTERNAL;

-- The packages' JSON (dpkg packages carry their file lists: 6 MB for 4 352 packages)
-- was compressed with pglz; lz4 takes 37 ms instead of 59 ms to insert those packages.
-- As in V0180, only where the server is built with lz4.
DO $$
BEGIN
    ALTER TABLE image_packages ALTER COLUMN package SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available; image_packages keeps the default compression';
END $$;
