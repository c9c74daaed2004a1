//! Side effects that check the lease first. A leader whose lease ran out (a
//! hanging call outlived it, the store stopped answering) must make no new EC2
//! or CML call: another process may lead by then, and two leaders launching
//! instances for one worker cost real money. Fencing tokens stop a deposed
//! leader's *writes*; this gate stops its *calls*.
//!
//! The driver runs each engine step inside [`acting_under`]; the engine's cloud
//! and CML adapters are wrapped in [`GatedCloud`] and [`GatedCml`], which ask
//! [`check`] before every call. Calls made outside an engine step (an operator's
//! request served by any process, a simulation without leases) are not gated:
//! they act for the caller, not for the controllers.

/// `impl $port for $gated`, every method asking [`check`] first (through the
/// expression after `=>`, which builds the refusal) and then making the same
/// call on `self.inner`; the methods after `ungated` only forward.
macro_rules! gated_port {
    (
        impl $port:ident for $gated:ty {
            $(async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty => $gate:expr;)*
            ungated {
                $(fn $plain:ident(&self $(, $parg:ident: $pty:ty)*) -> $pret:ty;)*
            }
        }
    ) => {
        #[async_trait::async_trait]
        impl $port for $gated {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    $gate?;
                    self.inner.$name($($arg),*).await
                }
            )*
            $(
                fn $plain(&self $(, $parg: $pty)*) -> $pret {
                    self.inner.$plain($($parg),*)
                }
            )*
        }
    };
}

mod cloud;
mod cml;

use std::sync::Arc;

pub use cloud::GatedCloud;
pub use cml::GatedCml;

use crate::runtime::LeaderElector;

tokio::task_local! {
    static ACTING_FOR: Arc<LeaderElector>;
}

/// Runs `step` as the leader `elector` stands for: every gated call inside it
/// is refused once the elector's lease has run out by the local clock.
pub async fn acting_under<F: std::future::Future>(
    elector: Arc<LeaderElector>,
    step: F,
) -> F::Output {
    ACTING_FOR.scope(elector, step).await
}

/// Whether the current task may make a call: true outside [`acting_under`],
/// and inside it while the lease is held.
pub fn may_call() -> bool {
    ACTING_FOR
        .try_with(|elector| elector.fence().is_some())
        .unwrap_or(true)
}

/// `Ok` when the current task may make a call, else the error `refused` builds.
pub(crate) fn check<E>(refused: impl FnOnce() -> E) -> Result<(), E> {
    if may_call() {
        Ok(())
    } else {
        tracing::warn!("lease lost: refusing a cloud or CML call of the engine step in flight");
        Err(refused())
    }
}
