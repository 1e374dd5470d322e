-- A registry that answered 429/503 with Retry-After is left alone until then by every
-- watch check, whatever the account: rate limits apply to the caller (customs), not to one
-- subscription. Checks of that registry due earlier are deferred, not failed.
CREATE TABLE registry_holds (
    registry   text        PRIMARY KEY,
    until      timestamptz NOT NULL,
    reason     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
