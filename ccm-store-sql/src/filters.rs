//! The conditions of the list filters both databases spell alike (`AND NOT
//! gone` reads a boolean column in PostgreSQL and a 0/1 integer in SQLite the
//! same way). Worker and lablet filters use each database's own array and JSON
//! operators and stay in the backends.

use ccm_core::ports::store::{DefinitionFilter, LabFilter};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// The conditions of `filter` on the `labs` table.
pub fn push_lab_filter<'args, DB>(query: &mut QueryBuilder<'args, DB>, filter: &LabFilter)
where
    DB: Database,
    String: 'args + Encode<'args, DB> + Type<DB>,
{
    if let Some(worker) = filter.worker_id {
        query
            .push(" AND worker_id = ")
            .push_bind(worker.to_string());
    }
    if !filter.include_gone {
        query.push(" AND NOT gone");
    }
}

/// The conditions of `filter` on the `definitions` table.
pub fn push_definition_filter<'args, DB>(
    query: &mut QueryBuilder<'args, DB>,
    filter: &DefinitionFilter,
) where
    DB: Database,
    String: 'args + Encode<'args, DB> + Type<DB>,
{
    if let Some(name) = &filter.name {
        query.push(" AND name = ").push_bind(name.clone());
    }
    if filter.active_only {
        query.push(" AND active");
    }
}
