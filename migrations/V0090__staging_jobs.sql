-- Fan-out staging. An analysis resolves the image, records a staging job with the layers
-- (by diff id) not staged yet, and sends one stage-layer message per layer; each delivery
-- flips its layer's row once, and the one that takes `layers_pending` to zero becomes the
-- job's assembler. Recording the analysis deletes the job, so it happens once.
-- Expand-only: two new tables.
CREATE TABLE image_staging_jobs (
    job_id         uuid PRIMARY KEY,
    -- one job per image: a new analysis of the image replaces it
    image_id       uuid NOT NULL UNIQUE REFERENCES images (id) ON DELETE CASCADE,
    -- the resolved image the assembly records: the manifest as served, and the rest
    manifest       bytea NOT NULL,
    resolved       jsonb NOT NULL,
    layers_pending integer NOT NULL CHECK (layers_pending >= 0),
    -- SQS message id of the delivery that finished the last layer (or of the analysis
    -- message when nothing was left to stage): it, and its redeliveries, assemble
    assembler      text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE image_staging_job_layers (
    job_id  uuid    NOT NULL REFERENCES image_staging_jobs (job_id) ON DELETE CASCADE,
    diff_id text    NOT NULL,
    -- how many of the image's layers have this diff id, and their compressed bytes
    -- (what `image_staging_progress` gains when it is done)
    layers  integer NOT NULL,
    bytes   bigint  NOT NULL,
    done    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, diff_id)
);
