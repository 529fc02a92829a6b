//! Statements built at run time (lists of keys, multi-row inserts), in the SQL both backends
//! read.
//!
//! Like sqlx's `QueryBuilder`, but its placeholders suit the backend: `$1, $2, …` for
//! PostgreSQL (`QueryBuilder<Any>` writes `?`, which PostgreSQL refuses), and `?` for SQLite,
//! where numbered parameters are looked up by name one at a time (`sqlite3_bind_parameter_name`
//! scans a list: quadratic in a multi-row statement's thousands of parameters, which made
//! imports 1.6× slower). Only `&'static str` text can be pushed, so no value ever becomes SQL:
//! values go in as bound arguments.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Type};

use crate::Backend;

pub(crate) struct Sql {
    text: String,
    args: AnyArguments,
    count: usize,
    numbered: bool,
}

impl Sql {
    pub(crate) fn new(backend: Backend, init: &'static str) -> Self {
        Self {
            text: init.to_owned(),
            args: AnyArguments::default(),
            count: 0,
            numbered: backend == Backend::Postgres,
        }
    }

    pub(crate) fn push(&mut self, sql: &'static str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// A table or column name read from the database's own catalog: only lower-case letters,
    /// digits and `_` (as every name in Ward's schema), written double-quoted.
    pub(crate) fn push_identifier(&mut self, name: &str) -> crate::Result<&mut Self> {
        let plain = !name.is_empty()
            && name.len() <= 63
            && !name.as_bytes()[0].is_ascii_digit()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(crate::StoreError::Invalid(format!(
                "unexpected name {name:?} in the database's catalog"
            )));
        }
        self.text.push('"');
        self.text.push_str(name);
        self.text.push('"');
        Ok(self)
    }

    pub(crate) fn push_bind<'t, T: Encode<'t, Any> + Type<Any> + 't>(
        &mut self,
        value: T,
    ) -> &mut Self {
        self.count += 1;
        if self.numbered {
            write!(self.text, "${}", self.count).expect("writing to a String");
        } else {
            self.text.push('?');
        }
        // Any's encoders (integers, floats, text, NULL) only copy the value into the
        // argument list: they cannot fail.
        self.args
            .add(value)
            .expect("encoding an argument of a type Any supports");
        self
    }

    /// A list whose items are separated by `separator`.
    pub(crate) fn separated(&mut self, separator: &'static str) -> Separated<'_> {
        Separated {
            sql: self,
            separator,
            first: true,
        }
    }

    /// ` VALUES (…), (…)`: one parenthesised row per item, written by `row`.
    pub(crate) fn push_values<I, F>(&mut self, items: I, mut row: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_>, I::Item),
    {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            row(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    pub(crate) fn build(self) -> sqlx::query::Query<'static, Any, AnyArguments> {
        sqlx::query_with(AssertSqlSafe(self.text), self.args)
    }

    pub(crate) fn build_query_scalar<O>(
        self,
    ) -> sqlx::query::QueryScalar<'static, Any, O, AnyArguments>
    where
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(AssertSqlSafe(self.text), self.args)
    }
}

pub(crate) struct Separated<'b> {
    sql: &'b mut Sql,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.sql.push(self.separator);
        }
        self.first = false;
    }

    pub(crate) fn push(&mut self, sql: &'static str) -> &mut Self {
        self.separate();
        self.sql.push(sql);
        self
    }

    pub(crate) fn push_unseparated(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push(sql);
        self
    }

    pub(crate) fn push_bind<'t, T: Encode<'t, Any> + Type<Any> + 't>(
        &mut self,
        value: T,
    ) -> &mut Self {
        self.separate();
        self.sql.push_bind(value);
        self
    }

    pub(crate) fn push_bind_unseparated<'t, T: Encode<'t, Any> + Type<Any> + 't>(
        &mut self,
        value: T,
    ) -> &mut Self {
        self.sql.push_bind(value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut q = Sql::new(Backend::Postgres, "SELECT 1 FROM t WHERE (a, b) IN (");
        let mut list = q.separated(", ");
        for (a, b) in [("x", 1i64), ("y", 2)] {
            list.push("(")
                .push_bind_unseparated(a)
                .push_unseparated(", ");
            list.push_bind_unseparated(b).push_unseparated(")");
        }
        q.push(") AND c = ").push_bind("z");
        assert_eq!(
            q.text,
            "SELECT 1 FROM t WHERE (a, b) IN (($1, $2), ($3, $4)) AND c = $5"
        );
        assert_eq!(q.args.len(), 5);
        let mut q = Sql::new(Backend::Postgres, "INSERT INTO t (a, b) ");
        q.push_values([(1i64, "p"), (2, "q")], |mut b, (x, y)| {
            b.push_bind(x).push_bind(y);
        });
        assert_eq!(q.text, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        let mut q = Sql::new(Backend::Sqlite, "SELECT 1 FROM t WHERE a IN (");
        q.separated(", ").push_bind("x").push_bind("y");
        q.push(")");
        assert_eq!(q.text, "SELECT 1 FROM t WHERE a IN (?, ?)");
    }

    #[test]
    fn only_plain_names_are_identifiers() {
        let mut q = Sql::new(Backend::Sqlite, "SELECT ");
        q.push_identifier("vuln_id").unwrap();
        assert_eq!(q.text, "SELECT \"vuln_id\"");
        for bad in ["", "a\"b", "x; DROP TABLE t", "Upper", "1st", "a b", "é"] {
            assert!(q.push_identifier(bad).is_err(), "{bad:?}");
        }
        assert_eq!(q.text, "SELECT \"vuln_id\"");
    }
}
