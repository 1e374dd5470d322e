//! Accounts and their users. Passwords arrive here already hashed (argon2, by the API);
//! the store never sees a plain-text password.

use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::{Store, StoreError};

/// The account the configured admin user belongs to; it always exists.
pub const ADMIN_ACCOUNT: &str = "admin";

#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub name: String,
    pub email: Option<String>,
    /// `admin`, `user` or `service`.
    pub kind: String,
    /// `enabled`, `disabled` or `deleting`.
    pub state: String,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub username: String,
    pub account: String,
    /// `native` (a password), `internal` or `external`.
    pub kind: String,
    pub created_at: OffsetDateTime,
    pub last_updated: OffsetDateTime,
}

/// What logging in as a user needs to know, in one query.
#[derive(Clone, PartialEq)]
pub struct LoginRecord {
    pub username: String,
    pub account: String,
    pub account_kind: String,
    pub account_state: String,
    /// argon2 PHC string; `None` for a user whose password is configuration (the admin).
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRecord")
            .field("username", &self.username)
            .field("account", &self.account)
            .field("account_state", &self.account_state)
            .finish_non_exhaustive()
    }
}

/// The outcome of deleting an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountDeletion {
    Deleted,
    NotFound,
    /// Only a disabled account can be deleted (as in Anchore).
    StillEnabled,
}

const ACCOUNT_COLS: &str = "name, email, type, state, created_at, last_updated";
const USER_COLS: &str = "username, account, type, created_at, last_updated";

fn account(r: &Row) -> AccountRecord {
    AccountRecord {
        name: r.get("name"),
        email: r.get("email"),
        kind: r.get("type"),
        state: r.get("state"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

fn user(r: &Row) -> UserRecord {
    UserRecord {
        username: r.get("username"),
        account: r.get("account"),
        kind: r.get("type"),
        created_at: r.get("created_at"),
        last_updated: r.get("last_updated"),
    }
}

impl Store {
    /// Accounts by name, optionally only those in `state`.
    pub async fn accounts(&self, state: Option<&str>) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE ($1::text IS NULL OR state = $1) ORDER BY name"),
                &[&state],
            )
            .await?;
        Ok(rows.iter().map(account).collect())
    }

    pub async fn account(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE name = $1"),
                &[&name],
            )
            .await?;
        Ok(row.as_ref().map(account))
    }

    /// Creates a `user` account; `None` when the name is taken.
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "INSERT INTO accounts (name, email) VALUES ($1, $2)
                     ON CONFLICT (name) DO NOTHING RETURNING {ACCOUNT_COLS}"
                ),
                &[&name, &email],
            )
            .await?;
        Ok(row.as_ref().map(account))
    }

    /// Enables or disables an account; `None` when there is no such account.
    pub async fn set_account_state(
        &self,
        name: &str,
        state: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "UPDATE accounts SET state = $2, last_updated = now() WHERE name = $1 AND state <> 'deleting'
                     RETURNING {ACCOUNT_COLS}"
                ),
                &[&name, &state],
            )
            .await?;
        Ok(row.as_ref().map(account))
    }

    /// Deletes a disabled account with its users and everything it owns: every table with
    /// an `account` column, found from the catalog so a new table cannot be forgotten.
    pub async fn delete_account(&self, name: &str) -> Result<AccountDeletion, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT state FROM accounts WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await?
        else {
            return Ok(AccountDeletion::NotFound);
        };
        if row.get::<_, String>(0) == "enabled" {
            return Ok(AccountDeletion::StillEnabled);
        }
        let tables = tx
            .query(
                "SELECT c.table_name::text FROM information_schema.columns c
                 JOIN information_schema.tables t USING (table_schema, table_name)
                 WHERE c.table_schema = current_schema() AND c.column_name = 'account'
                   AND t.table_type = 'BASE TABLE' AND c.table_name NOT IN ('accounts', 'account_users')
                 ORDER BY 1",
                &[],
            )
            .await?;
        for t in &tables {
            let table: String = t.get(0);
            tx.execute(
                &format!(
                    "DELETE FROM \"{}\" WHERE account = $1",
                    table.replace('"', "\"\"")
                ),
                &[&name],
            )
            .await?;
        }
        tx.execute("DELETE FROM accounts WHERE name = $1", &[&name])
            .await?;
        tx.commit().await?;
        Ok(AccountDeletion::Deleted)
    }

    pub async fn users(&self, account: &str) -> Result<Vec<UserRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "SELECT {USER_COLS} FROM account_users WHERE account = $1 ORDER BY username"
                ),
                &[&account],
            )
            .await?;
        Ok(rows.iter().map(user).collect())
    }

    pub async fn user(
        &self,
        account: &str,
        username: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "SELECT {USER_COLS} FROM account_users WHERE account = $1 AND username = $2"
                ),
                &[&account, &username],
            )
            .await?;
        Ok(row.as_ref().map(user))
    }

    /// Adds a native user with an argon2 `password_hash`; `None` when the username is
    /// taken (usernames are unique across accounts, since they are what logs in).
    pub async fn create_user(
        &self,
        account: &str,
        username: &str,
        password_hash: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                &format!(
                    "INSERT INTO account_users (username, account, password_hash) VALUES ($2, $1, $3)
                     ON CONFLICT (username) DO NOTHING RETURNING {USER_COLS}"
                ),
                &[&account, &username, &password_hash],
            )
            .await?;
        Ok(row.as_ref().map(user))
    }

    /// Replaces a user's password hash; false when there is no such user.
    pub async fn set_user_password(
        &self,
        account: &str,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute(
                "UPDATE account_users SET password_hash = $3, last_updated = now()
                 WHERE account = $1 AND username = $2 AND password_hash IS NOT NULL",
                &[&account, &username, &password_hash],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn delete_user(&self, account: &str, username: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .await?
            .execute(
                "DELETE FROM account_users WHERE account = $1 AND username = $2",
                &[&account, &username],
            )
            .await?;
        Ok(n > 0)
    }

    /// The user `username` with its account, for authentication.
    pub async fn login(&self, username: &str) -> Result<Option<LoginRecord>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt(
                "SELECT u.username, u.account, a.type, a.state, u.password_hash
                 FROM account_users u JOIN accounts a ON a.name = u.account WHERE u.username = $1",
                &[&username],
            )
            .await?;
        Ok(row.map(|r| LoginRecord {
            username: r.get(0),
            account: r.get(1),
            account_kind: r.get(2),
            account_state: r.get(3),
            password_hash: r.get(4),
        }))
    }
}
