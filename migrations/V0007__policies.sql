-- Policy bundles per account (Anchore's format, stored as uploaded) and the evaluations
-- of images against them, one per (image, tag, bundle), kept for audit.

CREATE TABLE policies (
    account      text        NOT NULL,
    policy_id    text        NOT NULL,
    name         text,
    description  text,
    active       boolean     NOT NULL DEFAULT false,
    bundle       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, policy_id)
);

CREATE UNIQUE INDEX policies_one_active ON policies (account) WHERE active;

CREATE TABLE policy_evaluations (
    image_id     uuid        NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag          text        NOT NULL,
    policy_id    text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('pass', 'fail')),
    final_action text        NOT NULL,
    evaluation   jsonb       NOT NULL,
    bundle       jsonb       NOT NULL,
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, tag, policy_id)
);
