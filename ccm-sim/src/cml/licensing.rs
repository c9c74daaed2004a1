//! Smart Licensing of one simulated CML server. Registration completes
//! asynchronously: it is `IN_PROGRESS` until its completion instant, then
//! `COMPLETED` (or `FAILED` for a bad token).

use ccm_core::ports::cml::{CmlError, Licensing, LicensingFeature};
use ccm_core::time::{plus_seconds, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::CmlConfig;

/// Registration state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum Registration {
    /// Never registered, or deregistered.
    Unregistered,
    /// Requested; decided at `completes_at`.
    InProgress {
        /// When the outcome is known.
        completes_at: Timestamp,
        /// Whether the token will be accepted.
        token_ok: bool,
    },
    /// Registered until `expires_at`.
    Registered {
        /// When the registration lapses.
        expires_at: Timestamp,
    },
    /// The last registration failed.
    Failed,
}

/// Licence of one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Licence {
    pub(crate) registration: Registration,
    /// Enterprise product.
    pub(crate) enterprise: bool,
    /// Node limit once registered.
    pub(crate) registered_node_limit: u32,
    /// Node limit otherwise.
    pub(crate) unlicensed_node_limit: u32,
}

/// A token the simulated Smart Licensing accepts: anything non-blank that does not
/// contain `invalid`.
pub(crate) fn token_is_valid(token: &str) -> bool {
    !token.trim().is_empty() && !token.to_ascii_lowercase().contains("invalid")
}

fn rejected(operation: &str, status: u16, description: &str) -> CmlError {
    CmlError::Rejected {
        operation: operation.to_owned(),
        status,
        description: description.to_owned(),
    }
}

impl Licence {
    /// The licence a new server starts with.
    pub(crate) fn new(config: &CmlConfig, now: Timestamp) -> Self {
        let registration = if config.licensed_at_launch {
            Registration::Registered {
                expires_at: plus_seconds(now, config.registration_valid_seconds),
            }
        } else {
            Registration::Unregistered
        };
        Self {
            registration,
            enterprise: config.enterprise,
            registered_node_limit: config.registered_node_limit,
            unlicensed_node_limit: config.unlicensed_node_limit,
        }
    }

    /// Completes a registration whose time has come; returns the instant and outcome
    /// when it did (for the `license_info` telemetry event).
    pub(crate) fn catch_up(
        &mut self,
        now: Timestamp,
        valid_seconds: i64,
    ) -> Option<(Timestamp, bool)> {
        match self.registration {
            Registration::InProgress {
                completes_at,
                token_ok,
            } if now >= completes_at => {
                self.registration = if token_ok {
                    Registration::Registered {
                        expires_at: plus_seconds(completes_at, valid_seconds),
                    }
                } else {
                    Registration::Failed
                };
                Some((completes_at, token_ok))
            }
            _ => None,
        }
    }

    /// True when registered and not expired at `now`.
    pub(crate) fn is_registered(&self, now: Timestamp) -> bool {
        matches!(self.registration, Registration::Registered { expires_at } if now < expires_at)
    }

    /// Nodes this server may run at `now`.
    pub(crate) fn node_limit(&self, now: Timestamp) -> u32 {
        if self.is_registered(now) {
            self.registered_node_limit
        } else {
            self.unlicensed_node_limit
        }
    }

    /// `POST /licensing/registration`.
    pub(crate) fn register(
        &mut self,
        token: &str,
        reregister: bool,
        now: Timestamp,
        delay_seconds: i64,
    ) -> Result<(), CmlError> {
        match self.registration {
            Registration::InProgress { .. } => Err(rejected(
                "register_licence",
                409,
                "Registration cannot be requested at this time.",
            )),
            Registration::Registered { .. } if !reregister && self.is_registered(now) => {
                Err(rejected(
                    "register_licence",
                    400,
                    "The product is already registered; set reregister to register again.",
                ))
            }
            _ => {
                self.registration = Registration::InProgress {
                    completes_at: plus_seconds(now, delay_seconds),
                    token_ok: token_is_valid(token),
                };
                Ok(())
            }
        }
    }

    /// `DELETE /licensing/deregistration`.
    pub(crate) fn deregister(&mut self) -> Result<(), CmlError> {
        match self.registration {
            Registration::Unregistered => Err(rejected(
                "deregister_licence",
                400,
                "The product is already deregistered.",
            )),
            Registration::InProgress { .. } => Err(rejected(
                "deregister_licence",
                409,
                "Deregistration cannot be requested at this time.",
            )),
            Registration::Registered { .. } | Registration::Failed => {
                self.registration = Registration::Unregistered;
                Ok(())
            }
        }
    }

    /// `GET /licensing`, with `in_use` nodes counted by the caller.
    pub(crate) fn view(&self, now: Timestamp, nodes_in_use: u32) -> Licensing {
        let (registration, authorization, expires_at) = match self.registration {
            Registration::Unregistered => ("NOT_REGISTERED", "NOT_AUTHORIZED", None),
            Registration::InProgress { .. } => ("IN_PROGRESS", "NOT_AUTHORIZED", None),
            Registration::Registered { expires_at } if now < expires_at => {
                ("COMPLETED", "IN_COMPLIANCE", Some(expires_at))
            }
            Registration::Registered { expires_at } => ("COMPLETED", "EXPIRED", Some(expires_at)),
            Registration::Failed => ("FAILED", "NOT_AUTHORIZED", None),
        };
        let registered = self.is_registered(now);
        let (product, product_id) = if self.enterprise {
            ("CML - Enterprise License", "CML_ENT")
        } else {
            ("CML - Personal License", "CML_PERSONAL")
        };
        let status = if registered { "IN_USE" } else { "INIT" };
        Licensing {
            registration_status: registration.to_owned(),
            authorization_status: authorization.to_owned(),
            expires_at,
            is_enterprise: self.enterprise && registered,
            features: vec![
                LicensingFeature {
                    id: format!("regid.2019-10.com.cisco.{product_id},1.0"),
                    name: product.to_owned(),
                    status: status.to_owned(),
                    in_use: u32::from(registered),
                    max: Some(1),
                },
                LicensingFeature {
                    id: "regid.2019-10.com.cisco.CML_NODE_COUNT,1.0".to_owned(),
                    name: "CML - Node Count".to_owned(),
                    status: status.to_owned(),
                    in_use: nodes_in_use,
                    max: Some(self.node_limit(now)),
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::epoch;

    fn t(s: i64) -> Timestamp {
        plus_seconds(epoch(), s)
    }

    #[test]
    fn registration_completes_after_its_delay() {
        let mut licence = Licence::new(&CmlConfig::default(), t(0));
        assert_eq!(licence.node_limit(t(0)), 5);
        licence.register("good-token", false, t(0), 60).unwrap();
        assert_eq!(licence.view(t(10), 0).registration_status, "IN_PROGRESS");
        assert!(licence.register("good-token", false, t(10), 60).is_err());
        assert_eq!(licence.catch_up(t(59), 100), None);
        assert_eq!(licence.catch_up(t(60), 100), Some((t(60), true)));
        let view = licence.view(t(61), 3);
        assert_eq!(view.registration_status, "COMPLETED");
        assert_eq!(view.authorization_status, "IN_COMPLIANCE");
        assert_eq!(view.features[1].in_use, 3);
        assert_eq!(licence.node_limit(t(61)), 20);
        assert_eq!(licence.view(t(160), 0).authorization_status, "EXPIRED");
        assert_eq!(licence.node_limit(t(160)), 5);
    }

    #[test]
    fn invalid_tokens_fail_and_deregistration_resets() {
        let mut licence = Licence::new(&CmlConfig::default(), t(0));
        assert!(licence.deregister().is_err());
        licence.register("invalid", false, t(0), 5).unwrap();
        assert_eq!(licence.catch_up(t(5), 100), Some((t(5), false)));
        assert_eq!(licence.view(t(5), 0).registration_status, "FAILED");
        licence.deregister().unwrap();
        assert_eq!(licence.view(t(5), 0).registration_status, "NOT_REGISTERED");
        assert!(!token_is_valid("  "));
        assert!(token_is_valid("abc"));
    }

    #[test]
    fn reregister_is_allowed_when_asked() {
        let config = CmlConfig {
            licensed_at_launch: true,
            ..CmlConfig::default()
        };
        let mut licence = Licence::new(&config, t(0));
        assert!(licence.register("x", false, t(1), 5).is_err());
        licence.register("x", true, t(1), 5).unwrap();
    }
}
