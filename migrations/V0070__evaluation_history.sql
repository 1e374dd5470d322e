-- The audit trail of policy decisions. `policy_evaluations` keeps the latest verdict per
-- (image, tag, bundle) for fast `check`; every evaluation is also appended here with the
-- digest of the bundle it used and the feed state it saw, so "what did we decide about this
-- image last Tuesday, and why" has an answer. Bundles are stored once per content digest.

CREATE TABLE policy_bundle_versions (
    bundle_digest text        PRIMARY KEY,   -- sha256 of the bundle as stored (jsonb text form)
    bundle        jsonb       NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_evaluation_log (
    id            bigserial   PRIMARY KEY,
    image_id      uuid        NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag           text        NOT NULL,
    policy_id     text        NOT NULL,
    bundle_digest text        NOT NULL REFERENCES policy_bundle_versions (bundle_digest),
    -- per feed: the last successful sync it had when this evaluation ran
    feed_state    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status        text        NOT NULL CHECK (status IN ('pass', 'fail')),
    final_action  text        NOT NULL,
    evaluation    jsonb       NOT NULL,
    evaluated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX policy_evaluation_log_by_image ON policy_evaluation_log (image_id, tag, evaluated_at DESC, id DESC);
