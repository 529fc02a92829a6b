//! Reading typed values out of rows: a stored word that is not in its vocabulary is an error
//! naming the table, the row and the column, never a silent `None`.

use std::fmt::Display;
use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, StoreError};

/// The column's text parsed as `T`.
pub(crate) fn parse<T: FromStr<Err = String>>(
    row: &AnyRow,
    table: &'static str,
    id: impl Display,
    column: &'static str,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|message| StoreError::Unreadable {
        table,
        row: id.to_string(),
        column,
        message,
    })
}

/// The column's text, if not NULL, parsed as `T`.
pub(crate) fn parse_optional<T: FromStr<Err = String>>(
    row: &AnyRow,
    table: &'static str,
    id: impl Display,
    column: &'static str,
) -> Result<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        t.parse().map_err(|message| StoreError::Unreadable {
            table,
            row: id.to_string(),
            column,
            message,
        })
    })
    .transpose()
}

/// The column's time (RFC 3339, as Ward writes it).
pub(crate) fn time(
    row: &AnyRow,
    table: &'static str,
    id: impl Display,
    column: &'static str,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let text: String = row.try_get(column)?;
    ward_model::timestamp::parse(&text).map_err(|message| StoreError::Unreadable {
        table,
        row: id.to_string(),
        column,
        message,
    })
}

/// The column's time, if not NULL.
pub(crate) fn time_optional(
    row: &AnyRow,
    table: &'static str,
    id: impl Display,
    column: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        ward_model::timestamp::parse(&t).map_err(|message| StoreError::Unreadable {
            table,
            row: id.to_string(),
            column,
            message,
        })
    })
    .transpose()
}
