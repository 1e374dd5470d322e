-- Each recorded package is kept as the JSON text analyze wrote (json, not jsonb), as the
-- file index is (V0180) and feed documents are (V0190). Nothing queries inside it:
-- evaluate, the API and the tag-drift gate read every package of an image whole and parse
-- it themselves; lookups go through the name, version, type, purl and source_name columns.
-- As jsonb, PostgreSQL parsed every package of every analysis into its binary form (26 000
-- packages, about 30 MB of JSON, on the largest benchmark image) and printed it back to
-- text on every read. The conversion keeps every document (jsonb prints as valid JSON).
ALTER TABLE image_packages ALTER COLUMN package TYPE json USING package::json;
