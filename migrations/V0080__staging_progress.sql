-- Per-image staging progress (layers staged n/m, bytes), shown by GET /v1/images/{digest}
-- as `customs_progress` while an analysis runs. Expand-only: a new table.
CREATE TABLE image_staging_progress (
    image_id      uuid PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    layers_total  integer NOT NULL,
    layers_staged integer NOT NULL DEFAULT 0,
    layers_reused integer NOT NULL DEFAULT 0,
    bytes_total   bigint  NOT NULL DEFAULT 0,
    bytes_staged  bigint  NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
