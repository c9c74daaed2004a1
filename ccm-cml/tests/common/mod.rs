//! Helpers shared by the client's integration tests: an HTTP CML simulator on a
//! virtual clock and a client that reads time from the same clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ccm_cml::{CmlClientConfig, HttpCmlClient, TlsMode};
use ccm_core::ids::WorkerId;
use ccm_core::ports::clock::VirtualClock;
use ccm_core::ports::cml::CmlEndpoint;
use ccm_core::secret::Secret;
use ccm_core::time::from_unix_seconds;
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer, Exchange};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "pa55-w0rd-never-logged";

/// A simulator on a virtual clock that records its exchanges.
pub struct Sim {
    pub server: CmlHttpServer,
    pub clock: VirtualClock,
}

impl Sim {
    pub async fn start(change: impl FnOnce(&mut CmlHttpOptions)) -> Self {
        // 2025-03-01T00:00:00Z.
        let clock = VirtualClock::new(from_unix_seconds(1_740_787_200));
        let mut options = CmlHttpOptions {
            username: USER.into(),
            password: Secret::new(PASSWORD),
            clock: Some(clock.clone()),
            record_exchanges: true,
            ..CmlHttpOptions::default()
        };
        change(&mut options);
        let server = CmlHttpServer::start(options).await.unwrap();
        Self { server, clock }
    }

    /// The endpoint of the simulated worker 1.
    pub fn ep(&self) -> CmlEndpoint {
        self.server.endpoint(WorkerId::from_u128(1))
    }

    /// A client on the simulator's clock, with `tls` (plain HTTP ignores it).
    pub fn client(&self, tls: TlsMode) -> HttpCmlClient {
        self.client_with(CmlClientConfig::new(USER, Secret::new(PASSWORD)).with_tls(tls))
    }

    pub fn client_with(&self, config: CmlClientConfig) -> HttpCmlClient {
        HttpCmlClient::with_clock(config, Arc::new(self.clock.clone())).unwrap()
    }

    /// Lets every transition finish (node boot, licence registration).
    pub fn settle(&self) {
        self.server.simulation().settle().unwrap();
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance_seconds(seconds);
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.server.exchanges()
    }

    /// Recorded calls to `template` (e.g. `/authenticate`), in order.
    pub fn calls_to(&self, template: &str) -> Vec<Exchange> {
        self.exchanges()
            .into_iter()
            .filter(|e| e.template.as_deref() == Some(template))
            .collect()
    }
}

/// A 127.0.0.1 port where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn endpoint(url: String) -> CmlEndpoint {
    CmlEndpoint::new(WorkerId::from_u128(9), url)
}

pub fn short_timeouts() -> CmlClientConfig {
    CmlClientConfig::new(USER, Secret::new(PASSWORD))
        .with_timeouts(Duration::from_secs(2), Duration::from_millis(500))
}
