-- Images, their tags and their layers: the catalog's system of record.
-- An image row exists from the moment it is added; its digest is known once the
-- analyze function has resolved the reference through the registry.

CREATE TABLE images (
    id                  uuid PRIMARY KEY,
    account             text        NOT NULL,
    -- the reference the analysis fetches: a tag or a digest-pinned reference
    source_ref          text        NOT NULL,
    platform            text        NOT NULL DEFAULT 'linux/amd64',
    image_digest        text,
    parent_digest       text,
    manifest_media_type text,
    manifest            bytea,
    config_digest       text,
    config              jsonb,
    arch                text,
    os                  text,
    image_size          bigint,
    layer_count         integer,
    analysis_status     text        NOT NULL DEFAULT 'not_analyzed'
        CHECK (analysis_status IN ('not_analyzed', 'analyzing', 'analyzed', 'analysis_failed')),
    analysis_error      text,
    image_status        text        NOT NULL DEFAULT 'active'
        CHECK (image_status IN ('active', 'inactive', 'deleting')),
    annotations         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    analyzed_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_updated        timestamptz NOT NULL DEFAULT now(),
    record_version      integer     NOT NULL DEFAULT 1
);

CREATE UNIQUE INDEX images_account_digest ON images (account, image_digest)
    WHERE image_digest IS NOT NULL;
CREATE INDEX images_account_created ON images (account, created_at DESC);

CREATE TABLE image_tags (
    image_id        uuid        NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    account         text        NOT NULL,
    registry        text        NOT NULL,
    repo            text        NOT NULL,
    tag             text        NOT NULL,
    tag_detected_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, registry, repo, tag)
);

CREATE INDEX image_tags_by_name ON image_tags (account, registry, repo, tag);

CREATE TABLE image_layers (
    image_id   uuid    NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    ordinal    integer NOT NULL,
    digest     text    NOT NULL,
    media_type text    NOT NULL,
    size       bigint  NOT NULL,
    diff_id    text,
    PRIMARY KEY (image_id, ordinal)
);
