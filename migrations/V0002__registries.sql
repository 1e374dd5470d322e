-- Registry credentials per account. The password is sealed with AES-256-GCM
-- (12-byte nonce || ciphertext+tag), bound to (account, registry) as associated data, so a
-- sealed value copied to another row does not open. `key_id` names the sealing key for
-- rotation.

CREATE TABLE registries (
    account         text        NOT NULL,
    registry        text        NOT NULL,
    registry_name   text        NOT NULL,
    registry_user   text        NOT NULL,
    registry_type   text        NOT NULL DEFAULT 'docker_v2',
    registry_verify boolean     NOT NULL DEFAULT true,
    password_sealed bytea       NOT NULL,
    key_id          text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, registry)
);
