//! How a database spells what the shared SQL needs.

/// The spelling of a parameter and of a JSON document in one database's SQL.
pub trait Dialect {
    /// The `position`th parameter (1-based): `?` in SQLite, `$3` in PostgreSQL.
    fn param(position: usize) -> String;

    /// The `position`th parameter holding a JSON document given as text:
    /// `?` in SQLite (stored as text), `CAST($4 AS jsonb)` in PostgreSQL.
    fn json_param(position: usize) -> String;

    /// The `body` column read back as JSON text: `body`, or `body::text`.
    const BODY_AS_TEXT: &'static str;

    /// `column` compared byte by byte, as Rust orders `str`: the column itself
    /// in SQLite (BINARY collation), `column COLLATE "C"` in PostgreSQL.
    fn in_byte_order(column: &str) -> String;
}

/// The two spellings, for the crate's unit tests.
#[cfg(test)]
pub(crate) mod spellings {
    use super::Dialect;

    /// `?` for every parameter, JSON as text (SQLite's spelling).
    pub(crate) struct Marks;
    impl Dialect for Marks {
        fn param(_: usize) -> String {
            "?".into()
        }
        fn json_param(_: usize) -> String {
            "?".into()
        }
        const BODY_AS_TEXT: &'static str = "body";

        fn in_byte_order(column: &str) -> String {
            column.to_owned()
        }
    }

    /// Numbered parameters, JSON cast (PostgreSQL's spelling).
    pub(crate) struct Numbered;
    impl Dialect for Numbered {
        fn param(position: usize) -> String {
            format!("${position}")
        }
        fn json_param(position: usize) -> String {
            format!("CAST(${position} AS jsonb)")
        }
        const BODY_AS_TEXT: &'static str = "body::text";

        fn in_byte_order(column: &str) -> String {
            format!("{column} COLLATE \"C\"")
        }
    }
}
