//! The CmlClient conformance suite: the reqwest client against the HTTP CML
//! simulator over real HTTPS on 127.0.0.1, trusting the simulator's self-signed
//! certificate as a custom CA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use ccm_cml::{HttpCmlClient, TlsMode};
use ccm_core::ports::cml::{CmlClient, CmlEndpoint};
use ccm_core::testing::cml::{self as suite, CmlHarness};

use common::{closed_port, endpoint, Sim};

struct HttpHarness {
    sim: Sim,
    client: HttpCmlClient,
}

#[async_trait]
impl CmlHarness for HttpHarness {
    fn client(&self) -> &dyn CmlClient {
        &self.client
    }

    async fn endpoint(&self) -> CmlEndpoint {
        self.sim.ep()
    }

    async fn settle(&self) {
        self.sim.settle();
    }

    async fn inject_user_activity(&self, _endpoint: &CmlEndpoint) -> bool {
        let instance = self.sim.server.instance_id().clone();
        self.sim
            .server
            .simulation()
            .record_user_activity(&instance, "student")
            .unwrap();
        true
    }

    async fn unreachable_endpoint(&self) -> Option<CmlEndpoint> {
        Some(endpoint(format!("https://127.0.0.1:{}", closed_port())))
    }
}

#[tokio::test]
async fn the_http_client_passes_the_cml_client_suite_over_https() {
    let sim = Sim::start(|o| o.tls = true).await;
    let pem = sim.server.certificate_pem().unwrap().to_owned();
    let client = sim.client(TlsMode::CustomCa(pem));
    let harness = HttpHarness { sim, client };
    let report = suite::run_all(&harness).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 13, "{report}");
    // One server served every check, and the checks cleaned up after themselves.
    let instance = harness.sim.server.instance_id().clone();
    assert!(harness
        .sim
        .server
        .simulation()
        .labs(&instance)
        .unwrap()
        .is_empty());
    // The token was reused, not fetched per call.
    let logins = harness.sim.calls_to("/authenticate").len();
    assert!(logins <= 2, "{logins} logins for one suite");
}
