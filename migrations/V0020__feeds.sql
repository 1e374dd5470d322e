-- Vulnerability feeds: normalised advisories, their affected packages, per-CVE
-- enrichments (KEV, EPSS), per-source sync cursors, sync runs and what each run changed.

-- One row per feed driver (Anchore's "feed"); created on first sync.
CREATE TABLE feeds (
    feed           text PRIMARY KEY,
    enabled        boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_full_sync timestamptz
);

-- Anchore's "groups": namespaces of a feed, with their record counts.
CREATE TABLE feed_groups (
    feed         text        NOT NULL REFERENCES feeds (feed) ON DELETE CASCADE,
    grp          text        NOT NULL,
    enabled      boolean     NOT NULL DEFAULT true,
    record_count integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    last_sync    timestamptz,
    PRIMARY KEY (feed, grp)
);

-- Where each upstream document stands: conditional-request validators and a cursor
-- (NVD: end of the last complete lastModified window). Written after the document's
-- records are committed, so a crash resumes from here.
CREATE TABLE feed_cursors (
    feed          text        NOT NULL,
    source        text        NOT NULL,
    etag          text,
    last_modified text,
    content_sha256 text,
    cursor        text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed, source)
);

-- One advisory as one source (feed + scope: the document set it came from) states it.
CREATE TABLE vulnerabilities (
    feed         text        NOT NULL,
    scope        text        NOT NULL,
    id           text        NOT NULL,
    aliases      text[]      NOT NULL DEFAULT '{}',
    summary      text,
    description  text,
    severity     text,
    severity_source text,
    cvss         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    published    timestamptz,
    modified     timestamptz,
    withdrawn    timestamptz,
    refs         text[]      NOT NULL DEFAULT '{}',
    content_hash text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed, scope, id)
);

CREATE INDEX vulnerabilities_id ON vulnerabilities (id);
CREATE INDEX vulnerabilities_aliases ON vulnerabilities USING gin (aliases);

-- Affected packages, looked up by (namespace, package) in one batched query per image.
CREATE TABLE vulnerability_packages (
    feed           text    NOT NULL,
    scope          text    NOT NULL,
    vuln_id        text    NOT NULL,
    ordinal        integer NOT NULL,
    namespace      text    NOT NULL,
    package        text    NOT NULL,
    version_format text    NOT NULL,
    ranges         jsonb   NOT NULL DEFAULT '[]'::jsonb,
    versions       text[]  NOT NULL DEFAULT '{}',
    fixed          text[]  NOT NULL DEFAULT '{}',
    state          text    NOT NULL,
    severity       text,
    PRIMARY KEY (feed, scope, vuln_id, ordinal),
    FOREIGN KEY (feed, scope, vuln_id) REFERENCES vulnerabilities (feed, scope, id) ON DELETE CASCADE
);

CREATE INDEX vulnerability_packages_lookup ON vulnerability_packages (namespace, package);

-- Facts attached to a CVE id by other sources.
CREATE TABLE vulnerability_enrichments (
    cve             text PRIMARY KEY,
    kev_date_added  date,
    kev_due_date    date,
    kev_ransomware  text,
    kev_name        text,
    epss_score      double precision,
    epss_percentile double precision,
    epss_date       date,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One sync of one feed.
CREATE TABLE feed_syncs (
    id              bigserial PRIMARY KEY,
    feed            text        NOT NULL,
    trigger         text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'success', 'failure')),
    documents       integer     NOT NULL DEFAULT 0,
    unchanged_documents integer NOT NULL DEFAULT 0,
    records         integer     NOT NULL DEFAULT 0,
    records_written integer     NOT NULL DEFAULT 0,
    records_removed integer     NOT NULL DEFAULT 0,
    skipped         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error           text
);

CREATE INDEX feed_syncs_feed ON feed_syncs (feed, started_at DESC);

-- Which (namespace, package) keys gained, lost or changed an advisory in a sync: the
-- input for re-evaluating only the images holding those packages.
CREATE TABLE feed_changes (
    sync_id   bigint NOT NULL REFERENCES feed_syncs (id) ON DELETE CASCADE,
    namespace text   NOT NULL,
    package   text   NOT NULL,
    vuln_id   text   NOT NULL,
    change    text   NOT NULL CHECK (change IN ('added', 'removed', 'changed')),
    PRIMARY KEY (sync_id, namespace, package, vuln_id)
);

CREATE INDEX feed_changes_key ON feed_changes (namespace, package);
