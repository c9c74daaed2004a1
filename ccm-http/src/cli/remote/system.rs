//! `ccm settings`, `ccm leadership`, `ccm session` (whoami), `ccm metrics` and
//! `ccm openapi`: what the server runs with and says about itself.

use super::client;
use crate::cli::client::{Endpoint, Payload, Query};
use crate::cli::output::{emit, fields, flat, print};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/settings`.
pub const SETTINGS: Endpoint = Endpoint::get("/api/v1/settings");
/// `GET /api/v1/system/leadership`.
pub const LEADERSHIP: Endpoint = Endpoint::get("/api/v1/system/leadership");
/// `GET /api/v1/session`.
pub const SESSION: Endpoint = Endpoint::get("/api/v1/session");
/// `GET /metrics`.
pub const METRICS: Endpoint = Endpoint::get("/metrics");
/// `GET /api/v1/openapi.json`.
pub const OPENAPI: Endpoint = Endpoint::get("/api/v1/openapi.json");

/// `ccm settings`.
pub async fn settings(remote: &RemoteArgs) -> Result<(), Error> {
    let answer = client(remote)?.call(SETTINGS, &[], &Query::new()).await?;
    print(remote.json, &answer, flat);
    Ok(())
}

/// `ccm leadership`.
pub async fn leadership(remote: &RemoteArgs) -> Result<(), Error> {
    let answer = client(remote)?.call(LEADERSHIP, &[], &Query::new()).await?;
    print(remote.json, &answer, flat);
    Ok(())
}

/// `ccm session`.
pub async fn session(remote: &RemoteArgs) -> Result<(), Error> {
    let answer = client(remote)?.call(SESSION, &[], &Query::new()).await?;
    print(remote.json, &answer, |s| {
        fields(
            s,
            &[
                ("subject", "subject"),
                ("role", "role"),
                ("can book", "can_book_lablets"),
            ],
        )
    });
    Ok(())
}

/// `ccm metrics`: the Prometheus text as is.
pub async fn metrics(remote: &RemoteArgs) -> Result<(), Error> {
    let text = client(remote)?
        .text(METRICS, &[], &Query::new(), Payload::Empty)
        .await?;
    emit(&text);
    Ok(())
}

/// `ccm openapi`: the document, pretty-printed.
pub async fn openapi(remote: &RemoteArgs) -> Result<(), Error> {
    let answer = client(remote)?.call(OPENAPI, &[], &Query::new()).await?;
    print(true, &answer, |_| String::new());
    Ok(())
}
