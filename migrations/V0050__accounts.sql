-- Accounts and their users. Every account-scoped table already names its account in an
-- `account` column; this adds the accounts themselves and who may log in to them.
-- The `admin` account and its `admin` user always exist: that user's password is the
-- service's configuration (CUSTOMS_ADMIN_PASSWORD), so its row holds no hash.

CREATE TABLE accounts (
    name         text        PRIMARY KEY,
    email        text,
    type         text        NOT NULL DEFAULT 'user' CHECK (type IN ('admin', 'user', 'service')),
    state        text        NOT NULL DEFAULT 'enabled' CHECK (state IN ('enabled', 'disabled', 'deleting')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_updated timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account_users (
    username      text        PRIMARY KEY,
    account       text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    -- argon2id in PHC string format; NULL for the configured admin user
    password_hash text,
    type          text        NOT NULL DEFAULT 'native' CHECK (type IN ('native', 'internal', 'external')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_updated  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX account_users_account ON account_users (account, username);

INSERT INTO accounts (name, type) VALUES ('admin', 'admin');
INSERT INTO account_users (username, account) VALUES ('admin', 'admin');
