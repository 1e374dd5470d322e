-- Advisory CVSS scores and affected ranges are kept as the JSON text the feed writer
-- serialised (json, not jsonb). Nothing queries inside them: the matcher, evaluate and
-- the API read each document whole and parse it themselves. As jsonb, PostgreSQL parsed
-- every record's ranges and scores into its binary form on write (and printed them back
-- to text on every read): a share of each imported record's database time. The
-- conversion keeps every document (jsonb prints as valid JSON).
ALTER TABLE vulnerability_packages
    ALTER COLUMN ranges DROP DEFAULT,
    ALTER COLUMN ranges TYPE json USING ranges::json,
    ALTER COLUMN ranges SET DEFAULT '[]'::json;

ALTER TABLE vulnerabilities
    ALTER COLUMN cvss DROP DEFAULT,
    ALTER COLUMN cvss TYPE json USING cvss::json,
    ALTER COLUMN cvss SET DEFAULT '[]'::json;
