//! Where twofold's tables live (a table prefix, and on PostgreSQL a schema),
//! and every statement of the store, written once for those names.
//!
//! The names are written into SQL, not bound, so they are validated first:
//! lowercase ASCII letters, digits and `_`, not starting with a digit. Lowercase
//! only, so that quoting them (which keeps keywords such as `user` usable as a
//! schema) never changes which table an application's own unquoted SQL finds.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::Backend;
use crate::error::SetupError;

/// The default table prefix.
pub(crate) const DEFAULT_PREFIX: &str = "twofold_";
/// The longest prefix: PostgreSQL's identifiers have at most 63 bytes, and the
/// longest name twofold adds to it is 23 (`ceremonies_organization`).
pub(crate) const MAX_PREFIX: usize = 40;
/// The longest schema name (PostgreSQL's limit).
pub(crate) const MAX_SCHEMA: usize = 63;

/// Checks that `name` is a plain lowercase SQL identifier (or, for a prefix, the
/// start of one).
pub(crate) fn validate(what: &'static str, name: &str, max: usize) -> Result<(), SetupError> {
    let mut bytes = name.bytes();
    let plain = match bytes.next() {
        Some(first) => {
            (first.is_ascii_lowercase() || first == b'_')
                && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }
        None => false,
    };
    if plain && name.len() <= max {
        Ok(())
    } else {
        Err(SetupError::InvalidName {
            what,
            name: name.to_string(),
            max,
        })
    }
}

/// The validated names of twofold's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) prefix: String,
    pub(crate) schema: Option<String>,
}

impl Names {
    /// The table `name` (without prefix), quoted and qualified: `"auth"."twofold_users"`.
    pub(crate) fn table(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("\"{schema}\".\"{}{name}\"", self.prefix),
            None => format!("\"{}{name}\"", self.prefix),
        }
    }

    /// The quoted schema, if any.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn quoted_schema(&self) -> Option<String> {
        self.schema.as_ref().map(|schema| format!("\"{schema}\""))
    }

    /// Whether these are the names every database had before names became
    /// configurable (so that such a database's migrations can be adopted).
    pub(crate) fn are_the_original_ones(&self) -> bool {
        self.prefix == DEFAULT_PREFIX
    }
}

/// One statement: its text, shared, so that each use is a cheap clone (and the
/// driver's per-connection statement cache finds it by its text).
#[derive(Debug, Clone)]
pub(crate) struct Statement(Arc<str>);

impl Statement {
    fn new(text: String) -> Statement {
        Statement(text.into())
    }

    /// The statement for `sqlx::query`.
    pub(crate) fn sql(&self) -> SqlStr {
        // The text is ours, with names validated in `validate`.
        AssertSqlSafe(Arc::clone(&self.0)).into_sql_str()
    }

    /// The statement's text, for the direct SQLite path.
    #[cfg(feature = "sqlite")]
    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

/// Every statement of the store.
#[derive(Debug, Clone)]
pub(crate) struct Queries {
    pub(crate) load_user: Statement,
    pub(crate) load_user_and_organization: Statement,
    pub(crate) insert_user: Statement,
    pub(crate) update_user: Statement,
    pub(crate) delete_user: Statement,
    pub(crate) unbind_all: Statement,
    pub(crate) unbind: Statement,
    pub(crate) bind: Statement,
    pub(crate) credential_owner: Statement,
    pub(crate) expired_users: Statement,
    pub(crate) users_to_notify: Statement,
    pub(crate) list_users_first: Statement,
    pub(crate) list_users_after: Statement,
    pub(crate) insert_ceremony: Statement,
    pub(crate) take_ceremony: Statement,
    pub(crate) count_ceremonies: Statement,
    pub(crate) purge_ceremonies: Statement,
    pub(crate) load_organization: Statement,
    pub(crate) insert_organization: Statement,
    pub(crate) update_organization: Statement,
}

impl Queries {
    pub(crate) fn new(names: &Names, backend: Backend) -> Queries {
        let users = names.table("users");
        let ceremonies = names.table("ceremonies");
        let organizations = names.table("organizations");
        let credentials = names.table("credentials");
        // Byte order on both databases (SQLite's default; PostgreSQL's "C").
        let collate = match backend {
            Backend::Postgres => r#" COLLATE "C""#,
            Backend::Sqlite => "",
        };
        let s = |text: String| Statement::new(text);
        Queries {
            load_user: s(format!("SELECT version, record FROM {users} WHERE id = $1")),
            // One statement for the second step's two reads: a row always comes
            // back, with NULLs for what does not exist.
            load_user_and_organization: s(format!(
                "SELECT u.version AS user_version, u.record AS user_record, \
                 o.version AS organization_version, o.record AS organization_record \
                 FROM (SELECT 1 AS one) AS anchor \
                 LEFT JOIN {users} AS u ON u.id = $1 \
                 LEFT JOIN {organizations} AS o ON o.id = $2"
            )),
            insert_user: s(format!(
                "INSERT INTO {users} (id, version, record, expires_at, notify_at) \
                 VALUES ($1, 1, $2, $3, $4)"
            )),
            update_user: s(format!(
                "UPDATE {users} SET record = $1, expires_at = $2, notify_at = $5, \
                 version = version + 1 WHERE id = $3 AND version = $4"
            )),
            delete_user: s(format!(
                "DELETE FROM {users} WHERE id = $1 AND version = $2"
            )),
            unbind_all: s(format!("DELETE FROM {credentials} WHERE user_id = $1")),
            unbind: s(format!(
                "DELETE FROM {credentials} WHERE id = $1 AND user_id = $2"
            )),
            bind: s(format!(
                "INSERT INTO {credentials} (id, user_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING"
            )),
            credential_owner: s(format!("SELECT user_id FROM {credentials} WHERE id = $1")),
            expired_users: s(format!(
                "SELECT id FROM {users} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2"
            )),
            users_to_notify: s(format!(
                "SELECT id FROM {users} WHERE notify_at <= $1 ORDER BY notify_at LIMIT $2"
            )),
            list_users_first: s(format!(
                "SELECT id FROM {users} ORDER BY id{collate} LIMIT $1"
            )),
            list_users_after: s(format!(
                "SELECT id FROM {users} WHERE id{collate} > $1 ORDER BY id{collate} LIMIT $2"
            )),
            insert_ceremony: s(format!(
                "INSERT INTO {ceremonies} (id, expires_at, record, organization) \
                 VALUES ($1, $2, $3, $4)"
            )),
            take_ceremony: s(format!(
                "DELETE FROM {ceremonies} WHERE id = $1 RETURNING record"
            )),
            count_ceremonies: s(format!(
                "SELECT COUNT(*) AS outstanding FROM {ceremonies} WHERE organization = $1"
            )),
            purge_ceremonies: s(format!("DELETE FROM {ceremonies} WHERE expires_at <= $1")),
            load_organization: s(format!(
                "SELECT version, record FROM {organizations} WHERE id = $1"
            )),
            insert_organization: s(format!(
                "INSERT INTO {organizations} (id, version, record) VALUES ($1, 1, $2)"
            )),
            update_organization: s(format!(
                "UPDATE {organizations} SET record = $1, version = version + 1 \
                 WHERE id = $2 AND version = $3"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lowercase_identifiers_are_accepted() {
        for name in ["twofold_", "auth_", "_x", "a", "tf2_", "app_2fa_"] {
            validate("table prefix", name, MAX_PREFIX).unwrap();
        }
        validate("schema", &"s".repeat(MAX_SCHEMA), MAX_SCHEMA).unwrap();
    }

    #[test]
    fn anything_else_is_refused_with_the_setting_named() {
        for name in [
            "",
            "Twofold_",
            "2fa_",
            "two-fold",
            "two fold",
            "x\"; DROP TABLE users; --",
            "tw\u{f6}fold",
            "a.b",
            "a\0",
        ] {
            let error = validate("table prefix", name, MAX_PREFIX).unwrap_err();
            assert!(
                matches!(error, SetupError::InvalidName { what: "table prefix", name: ref n, max: MAX_PREFIX } if n == name),
                "{name:?}: {error:?}"
            );
        }
        assert!(validate("schema", &"s".repeat(MAX_SCHEMA + 1), MAX_SCHEMA).is_err());
    }

    #[test]
    fn tables_are_quoted_and_qualified() {
        let plain = Names {
            prefix: "auth_".into(),
            schema: None,
        };
        assert_eq!(plain.table("users"), r#""auth_users""#);
        let qualified = Names {
            prefix: "twofold_".into(),
            schema: Some("user".into()),
        };
        assert_eq!(qualified.table("users"), r#""user"."twofold_users""#);
        assert_eq!(qualified.quoted_schema().as_deref(), Some(r#""user""#));
        assert!(qualified.are_the_original_ones());
        assert!(!plain.are_the_original_ones());
    }
}
