-- What the catalogers found in each image: its distribution and every package, with
-- where it was found. One row per package; queried by (type, name) when feeds change.

ALTER TABLE images ADD COLUMN distro text;
ALTER TABLE images ADD COLUMN distro_version text;
ALTER TABLE images ADD COLUMN distro_namespace text;
ALTER TABLE images ADD COLUMN package_count integer;
ALTER TABLE images ADD COLUMN catalog_unknowns jsonb NOT NULL DEFAULT '[]'::jsonb;

CREATE TABLE image_packages (
    image_id       uuid    NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    seq            integer NOT NULL,
    -- the whole package as the catalog reported it (customs_model::package::Package)
    package        jsonb   NOT NULL,
    name           text    NOT NULL,
    version        text    NOT NULL,
    type           text    NOT NULL,
    purl           text    NOT NULL,
    source_name    text,
    PRIMARY KEY (image_id, seq)
);

CREATE INDEX image_packages_by_name ON image_packages (type, name);
CREATE INDEX image_packages_by_source ON image_packages (type, source_name) WHERE source_name IS NOT NULL;

-- The squashed file index of each image (one JSON document; TOAST compresses it).
CREATE TABLE image_files (
    image_id uuid  PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    files    jsonb NOT NULL
);
