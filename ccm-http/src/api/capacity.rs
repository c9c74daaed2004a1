//! Capacity and cost: `GET /api/v1/capacity/forecast` (the workers the bookings
//! need over the next hours, the starts and stops that follow, and the lead
//! time in force: `Fleet::capacity_forecast`; counts only, no lablet or owner,
//! for managers and admins) and `GET /api/v1/cost` (what the fleet costs now,
//! today and this week). Both read the store, so any process answers alike.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use ccm_api::capacity::{CapacityForecast, ForecastQuery};
use ccm_api::cost::CostReport;

use super::contract::Contract;
use super::error::ApiResult;
use super::ApiQuery;
use crate::state::AppState;

/// `GET /api/v1/capacity/forecast`.
pub async fn forecast(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ForecastQuery>,
) -> ApiResult<impl IntoResponse> {
    let forecast = state
        .fleet
        .capacity_forecast(query.hours_or_default(), query.step_minutes_or_default())
        .await?;
    Ok(Json(CapacityForecast::from(&forecast)))
}

/// What `GET /api/v1/capacity/forecast` takes and answers.
pub fn forecast_contract() -> Contract {
    Contract::new()
        .query::<ForecastQuery>()
        .ok::<CapacityForecast>(
            200,
            "Workers needed per step, planned starts and stops, and the lead time in force",
        )
        .error(
            422,
            "`hours` is not between 1 and 168, or `step_minutes` not between 5 and 60",
        )
}

/// `GET /api/v1/cost`: the burn rate now, the cost of today and this week (UTC)
/// by region and instance type, and the saving against always-on
/// (`Fleet::cost_report`, from the workers' billing ledgers).
pub async fn cost(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(CostReport::from(&state.fleet.cost_report().await?)))
}

/// What `GET /api/v1/cost` answers.
pub fn cost_contract() -> Contract {
    Contract::new().ok::<CostReport>(
        200,
        "Burn rate now, cost today and this week by region and instance type, saving against always-on",
    )
}
