-- analyze now compresses a large package's JSON itself (an lz4 frame of the same text)
-- and stores it as bytea in package_lz4, leaving package NULL. A dpkg package carries its
-- file list and the digests its database records: on the large benchmark image those are
-- 6 MB of the packages' JSON, which PostgreSQL validated at bind (19 ms) and compressed
-- (most of the 20 ms its batch took to execute) inside the recording transaction. Small
-- packages (nearly all: npm, Python, Go…) stay json, as before.
--
-- Rollout (infra/README.md), as V0210: this only adds, but the new analyze leaves package
-- NULL for large packages, which evaluate and the API of before this release cannot read;
-- the template updates them before analyze. Readers take package when it is set, else
-- package_lz4. Rolling evaluate or the API back past this release needs analyze rolled
-- back first and the images it recorded meanwhile analysed again (infra/README.md).
ALTER TABLE image_packages
    ALTER COLUMN package DROP NOT NULL,
    ADD COLUMN package_lz4 bytea;
ALTER TABLE image_packages ALTER COLUMN package_lz4 SET STORAGE EXTERNAL;
