-- Layer staging: which layers are staged in S3 (content-addressed by diff id, shared by
-- every image that contains them), and what each image's squashed view held.

CREATE TABLE staged_layers (
    diff_id           text        PRIMARY KEY,
    digest            text        NOT NULL,
    media_type        text        NOT NULL,
    compressed_size   bigint      NOT NULL,
    uncompressed_size bigint      NOT NULL,
    entry_count       bigint      NOT NULL,
    staged_files      bigint      NOT NULL,
    staged_bytes      bigint      NOT NULL,
    staged_at         timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE images ADD COLUMN findings jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE images ADD COLUMN file_count bigint;
ALTER TABLE image_layers ADD COLUMN uncompressed_size bigint;
ALTER TABLE image_layers ADD COLUMN entry_count bigint;
