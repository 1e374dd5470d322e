-- Faster feed imports. A row-level foreign key check per affected package (and per
-- change key) cost more than the row itself in bulk imports; the feed writer inserts an
-- advisory and its packages in one transaction under a per-scope lock, so the checks
-- only guarded against a writer we do not have. Their cascades stay, set-based: one
-- statement-level trigger deletes the packages of every advisory a statement deletes,
-- and the change keys of every sync run a statement deletes (old and new code alike
-- rely on them). Two indexes no query reads are dropped: feed_changes_key (changes are
-- read by sync_id, the primary key's prefix) and vulnerabilities_aliases (a GIN index,
-- the dearest part of writing an advisory; nothing looks advisories up by alias yet; a
-- later query that does can bring it back with CREATE INDEX CONCURRENTLY).

ALTER TABLE vulnerability_packages DROP CONSTRAINT vulnerability_packages_feed_scope_vuln_id_fkey;

CREATE FUNCTION vulnerabilities_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM vulnerability_packages p USING gone g
     WHERE p.feed = g.feed AND p.scope = g.scope AND p.vuln_id = g.id;
    RETURN NULL;
END $$;

CREATE TRIGGER vulnerabilities_cascade AFTER DELETE ON vulnerabilities
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION vulnerabilities_cascade();

ALTER TABLE feed_changes DROP CONSTRAINT feed_changes_sync_id_fkey;

CREATE FUNCTION feed_syncs_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM feed_changes c USING gone g WHERE c.sync_id = g.id;
    RETURN NULL;
END $$;

CREATE TRIGGER feed_syncs_cascade AFTER DELETE ON feed_syncs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION feed_syncs_cascade();

DROP INDEX feed_changes_key;

DROP INDEX vulnerabilities_aliases;
