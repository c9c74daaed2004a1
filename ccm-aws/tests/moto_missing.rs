//! Without moto the tests must fail loudly, telling how to install it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_aws::testing::{locate_moto_server, MotoError, MotoServer};

#[tokio::test]
async fn a_missing_moto_is_an_error_that_says_how_to_install_it() {
    // This test binary is its own process: changing its environment is safe.
    std::env::set_var("CCM_MOTO_SERVER", "/nonexistent/bin/moto_server");
    assert!(matches!(
        locate_moto_server(),
        Err(MotoError::NotInstalled { .. })
    ));
    let err = MotoServer::start().await.expect_err("moto cannot start");
    let text = err.to_string();
    assert!(text.contains("scripts/setup-python"), "{text}");
    assert!(text.contains("/nonexistent/bin/moto_server"), "{text}");
}
