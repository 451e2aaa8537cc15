//! The little SQL that differs between the engines, said once for every crate whose tables
//! live in the ledger's database: how a write transaction starts, how it locks the rows it
//! reads, how an insert updates an existing row, how a bounded delete is written.
//!
//! Statements are otherwise written in the subset both engines share (`?` placeholders,
//! `BIGINT` integers, text ids), so these few pieces are all a caller has to branch on.

use sqlx::AnyConnection;

/// The database engines the ledger runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, embedded, one file (WAL mode; each commit synced before it is answered).
    Sqlite,
    /// MariaDB or MySQL with InnoDB.
    MySql,
}

impl Engine {
    /// The engine an open connection (of a pool from [`crate::open_pool`]) talks to.
    pub fn of(conn: &AnyConnection) -> Engine {
        if conn.backend_name() == "MySQL" {
            Engine::MySql
        } else {
            Engine::Sqlite
        }
    }

    /// How a write transaction starts: SQLite takes the write lock at once, so two writers
    /// never deadlock upgrading a read lock.
    pub fn begin_write(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::MySql => "BEGIN",
        }
    }

    /// The suffix that locks the rows a write transaction reads; empty where the transaction
    /// already holds the whole database ([`Engine::locks_rows`]).
    pub fn lock_rows(self) -> &'static str {
        match self {
            // The transaction already holds SQLite's single write lock.
            Engine::Sqlite => "",
            Engine::MySql => " FOR UPDATE",
        }
    }

    /// Whether a write transaction must lock the rows it decides on (MariaDB), rather than
    /// holding the whole database from its start (SQLite's `BEGIN IMMEDIATE`).
    pub fn locks_rows(self) -> bool {
        !self.lock_rows().is_empty()
    }

    /// The clause after `INSERT … VALUES (…)` that, when a row with the same `key` exists,
    /// sets its `columns` from the inserted row instead.
    pub fn upsert(self, key: &str, columns: &[&str]) -> String {
        match self {
            Engine::Sqlite => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                format!(" ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", "))
            }
            Engine::MySql => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect();
                format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
            }
        }
    }

    /// `DELETE` of at most `?` (the last placeholder) rows of `table` matching `condition`.
    /// SQLite has no `DELETE … LIMIT` unless compiled with it, so it deletes by `rowid`.
    pub fn delete_at_most(self, table: &str, condition: &str) -> String {
        match self {
            Engine::Sqlite => format!(
                "DELETE FROM {table} WHERE rowid IN \
                 (SELECT rowid FROM {table} WHERE {condition} LIMIT ?)"
            ),
            Engine::MySql => format!("DELETE FROM {table} WHERE {condition} LIMIT ?"),
        }
    }

    /// The integer division operator (`/` divides integers as integers in SQLite only; in
    /// MariaDB it gives a decimal).
    pub fn integer_division(self) -> &'static str {
        match self {
            Engine::Sqlite => "/",
            Engine::MySql => "DIV",
        }
    }
}

/// `?, ?, ?` for `n` placeholders.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_spells_its_own() {
        assert_eq!(placeholders(0), "");
        assert_eq!(placeholders(3), "?, ?, ?");
        assert_eq!(
            Engine::Sqlite.upsert("id", &["a", "b"]),
            " ON CONFLICT (id) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        assert_eq!(
            Engine::MySql.upsert("id", &["a"]),
            " ON DUPLICATE KEY UPDATE a = VALUES(a)"
        );
        assert!(Engine::MySql.locks_rows() && !Engine::Sqlite.locks_rows());
        assert_eq!(
            Engine::MySql.delete_at_most("t", "x < ?"),
            "DELETE FROM t WHERE x < ? LIMIT ?"
        );
        assert_eq!(
            Engine::Sqlite.delete_at_most("t", "x < ?"),
            "DELETE FROM t WHERE rowid IN (SELECT rowid FROM t WHERE x < ? LIMIT ?)"
        );
    }
}
