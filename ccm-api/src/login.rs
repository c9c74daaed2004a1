//! The browser login's queries (`/auth/login`, `/auth/callback`).

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Query of `GET /auth/login`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Local path to return to after login (`/`, `/#/workers`); anything else is
    /// refused.
    pub return_to: Option<String>,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
}

/// Query of `GET /auth/callback`, as the provider sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// Authorization code.
    pub code: Option<String>,
    /// The state sent at login.
    pub state: Option<String>,
    /// Error reported by the provider.
    pub error: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_query_refuses_unknown_keys_and_the_callback_tolerates_them() {
        assert!(serde_json::from_str::<LoginQuery>(r#"{"return_to":"/","x":1}"#).is_err());
        let callback: CallbackQuery =
            serde_json::from_str(r#"{"code":"c","state":"s","session_state":"x"}"#).unwrap();
        assert_eq!(callback.code.as_deref(), Some("c"));
    }
}
