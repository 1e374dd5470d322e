-- Staged layers are now keyed by the layer's blob digest (the manifest's, checked as the
-- blob is read) instead of its diff id. A diff id can only be trusted once the whole
-- decompressed tar has been hashed, a second SHA-256 pass over every byte of the layer
-- (about a sixth of the CPU an analysis takes); the blob digest is checked anyway. The
-- staging bucket moves to a new key scheme (layers/v2/, keyed by blob digest) alongside.
--
-- Rollout (infra/README.md): expand only. staged_layers (by diff id) keeps what it
-- recorded and gets no new rows. image_staging_job_layers: this release writes a job's
-- layers by diff id there too and marks them done alongside, so the release before can
-- finish the job if it is rolled back to; a job found there alone is of the release
-- before, and analyze of this release starts it over (one delivery queues the image's
-- analysis again, whose new job replaces the old one). Both old tables, and the writes
-- to image_staging_job_layers, go in a later contract release.

-- What is staged under layers/v2/, by blob digest: an audit record (the bucket decides).
CREATE TABLE staged_blobs (
    digest            text        PRIMARY KEY,
    media_type        text        NOT NULL,
    compressed_size   bigint      NOT NULL,
    uncompressed_size bigint      NOT NULL,
    entry_count       bigint      NOT NULL,
    staged_files      bigint      NOT NULL,
    staged_bytes      bigint      NOT NULL,
    staged_at         timestamptz NOT NULL DEFAULT now()
);

-- The layers a staging job waits for, by blob digest.
CREATE TABLE image_staging_job_blobs (
    job_id  uuid    NOT NULL REFERENCES image_staging_jobs (job_id) ON DELETE CASCADE,
    digest  text    NOT NULL,
    -- how many of the image's layers are this blob, and their compressed bytes (what
    -- image_staging_progress gains when it is done)
    layers  integer NOT NULL,
    bytes   bigint  NOT NULL,
    done    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, digest)
);
