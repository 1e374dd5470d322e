-- Watch mode and notifications: subscriptions (Anchore's four tag kinds plus repo_update),
-- the per-account event log, webhooks with sealed secrets, and per-target delivery state.

CREATE TABLE subscriptions (
    subscription_id    text        PRIMARY KEY,
    account            text        NOT NULL,
    subscription_type  text        NOT NULL
        CHECK (subscription_type IN ('tag_update', 'policy_eval', 'vuln_update', 'analysis_update', 'repo_update')),
    subscription_key   text        NOT NULL,
    subscription_value text,
    active             boolean     NOT NULL DEFAULT false,
    -- watch state: the digest last seen behind the tag (tag_update), the tags seen in the
    -- repository (repo_update), when it was last checked and why that failed
    last_digest        text,
    known_tags         text[]      NOT NULL DEFAULT '{}',
    last_checked_at    timestamptz,
    next_check_at      timestamptz,
    failures           integer     NOT NULL DEFAULT 0,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_updated       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account, subscription_key, subscription_type)
);

CREATE INDEX subscriptions_watch ON subscriptions (subscription_type, subscription_id) WHERE active;

CREATE TABLE events (
    id                 uuid        PRIMARY KEY,
    account            text        NOT NULL,
    event_type         text        NOT NULL,
    level              text        NOT NULL CHECK (level IN ('INFO', 'ERROR')),
    message            text        NOT NULL,
    details            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    resource_type      text        NOT NULL,
    resource_id        text        NOT NULL,
    source_servicename text        NOT NULL,
    source_hostid      text        NOT NULL,
    -- the subscription type (notification) this event feeds, if any
    notification_type  text,
    -- whether an active subscription wanted the event when it was recorded
    notify             boolean     NOT NULL DEFAULT false,
    notified_at        timestamptz,
    -- the same fact is recorded once per account
    dedupe_key         text,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX events_dedupe ON events (account, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX events_account_created ON events (account, created_at DESC);
CREATE INDEX events_outbox ON events (created_at) WHERE notify AND notified_at IS NULL;

-- Webhooks per account. The secret is sealed with AES-256-GCM bound to (account, id).
CREATE TABLE webhooks (
    id                 uuid        PRIMARY KEY,
    account            text        NOT NULL,
    url                text        NOT NULL,
    -- subscription types delivered; empty means every type
    notification_types text[]      NOT NULL DEFAULT '{}',
    payload_format     text        NOT NULL DEFAULT 'anchore' CHECK (payload_format IN ('anchore', 'customs')),
    active             boolean     NOT NULL DEFAULT true,
    secret_sealed      bytea       NOT NULL,
    key_id             text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_updated       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_account ON webhooks (account);

-- One row per (event, target): `webhook:<id>` or `sns`.
CREATE TABLE deliveries (
    event_id      uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    target        text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts      integer     NOT NULL DEFAULT 0,
    leased_until  timestamptz,
    last_status   integer,
    last_error    text,
    delivered_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, target)
);
