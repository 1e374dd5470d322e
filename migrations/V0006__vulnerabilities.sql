-- The vulnerability findings of each image, computed by the evaluate function and
-- served as stored (a request never re-matches).

CREATE TABLE image_vulnerabilities (
    image_id     uuid        PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    findings     jsonb       NOT NULL,
    evaluated_at timestamptz NOT NULL DEFAULT now()
);
