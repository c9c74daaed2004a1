//! Leader election over the store's leases. Only the holder runs controllers and
//! jobs, and every write they make carries the lease's fencing token, so a deposed
//! leader that has not noticed yet still cannot write.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ports::store::{Fence, Lease, Store, StoreError};
use crate::ports::Clock;
use crate::time::{plus_seconds, Timestamp};

/// Lease timing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseSettings {
    /// Lease name shared by all processes of a deployment.
    pub name: String,
    /// How long a grant lasts without renewal.
    pub duration_seconds: u32,
    /// How often the leader renews.
    pub renew_seconds: u32,
    /// How often a follower tries to take over.
    pub retry_seconds: u32,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            name: "ccm-controllers".into(),
            duration_seconds: 15,
            renew_seconds: 5,
            retry_seconds: 2,
        }
    }
}

/// This process's view of leadership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Leadership {
    /// This process leads until `expires_at` unless it renews.
    Leading {
        /// Fence for writes.
        fence: Fence,
        /// Local expiry of the grant.
        expires_at: Timestamp,
    },
    /// Another process (or nobody) leads.
    Following {
        /// Current holder, when known.
        holder: Option<String>,
    },
}

/// Acquires and renews one lease for one process.
pub struct LeaderElector {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    holder: String,
    settings: LeaseSettings,
    held: Mutex<Option<Lease>>,
    published: watch::Sender<Option<Fence>>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("holder", &self.holder)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LeaderElector {
    /// An elector for `holder` (a process identity unique in the deployment).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        holder: impl Into<String>,
        settings: LeaseSettings,
    ) -> Self {
        let (published, _) = watch::channel(None);
        Self {
            store,
            clock,
            holder: holder.into(),
            settings,
            held: Mutex::new(None),
            published,
        }
    }

    /// This process's identity.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Lease timing in force.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    fn held(&self) -> Option<Lease> {
        self.held
            .lock()
            .map(|guard| guard.clone())
            .unwrap_or_else(|poison| poison.into_inner().clone())
    }

    fn set_held(&self, lease: Option<Lease>) {
        let fence = lease.as_ref().map(|l| Fence {
            lease: l.name.clone(),
            token: l.token,
        });
        match self.held.lock() {
            Ok(mut guard) => *guard = lease,
            Err(poison) => *poison.into_inner() = lease,
        }
        self.published.send_if_modified(|current| {
            if *current == fence {
                false
            } else {
                *current = fence;
                true
            }
        });
    }

    /// The fence to write under, if this process leads and its grant has not run
    /// out by the local clock (so a leader cut off from the store stops acting
    /// within the lease duration even before anyone else takes over).
    pub fn fence(&self) -> Option<Fence> {
        let now = self.clock.now();
        self.held().filter(|l| l.expires_at > now).map(|l| Fence {
            lease: l.name,
            token: l.token,
        })
    }

    /// Changes of the published fence (`None` while following).
    pub fn subscribe(&self) -> watch::Receiver<Option<Fence>> {
        self.published.subscribe()
    }

    /// One election step: renew if leading, try to acquire otherwise. Store
    /// errors keep a still-valid grant and otherwise count as following.
    pub async fn step(&self) -> Leadership {
        let now = self.clock.now();
        let s = &self.settings;
        let outcome = match self.held() {
            Some(lease) => match self
                .store
                .renew_lease(&s.name, &self.holder, lease.token, s.duration_seconds, now)
                .await
            {
                Ok(renewed) => Ok(Some(renewed)),
                Err(StoreError::LeaseNotHeld { .. }) => Ok(None),
                Err(other) if lease.expires_at > now => {
                    tracing::warn!(error = %other, "lease renewal failed; keeping grant until it expires");
                    Ok(Some(lease))
                }
                Err(other) => Err(other),
            },
            None => {
                self.store
                    .try_acquire_lease(&s.name, &self.holder, s.duration_seconds, now)
                    .await
            }
        };
        match outcome {
            Ok(Some(lease)) => {
                let leadership = Leadership::Leading {
                    fence: Fence {
                        lease: lease.name.clone(),
                        token: lease.token,
                    },
                    expires_at: lease.expires_at,
                };
                self.set_held(Some(lease));
                leadership
            }
            Ok(None) | Err(_) => {
                if self.held().is_some() {
                    tracing::warn!(holder = %self.holder, "lost the controller lease");
                }
                self.set_held(None);
                let holder = self
                    .store
                    .get_lease(&s.name)
                    .await
                    .ok()
                    .flatten()
                    .filter(|l| l.expires_at > now)
                    .map(|l| l.holder);
                Leadership::Following { holder }
            }
        }
    }

    /// When the next step is due: the renew interval while leading, the retry
    /// interval while following.
    pub fn next_step_at(&self) -> Timestamp {
        let seconds = if self.fence().is_some() {
            self.settings.renew_seconds
        } else {
            self.settings.retry_seconds
        };
        plus_seconds(self.clock.now(), i64::from(seconds.max(1)))
    }

    /// Resolves once this process no longer holds the lease by the local clock:
    /// at once when following, else when the grant runs out unrenewed or a
    /// step finds it taken. The driver races each engine step against it.
    pub async fn lease_ends(&self) {
        let mut changes = self.subscribe();
        loop {
            let Some(expires_at) = self.held().map(|l| l.expires_at) else {
                return;
            };
            if expires_at <= self.clock.now() {
                return;
            }
            tokio::select! {
                () = self.clock.sleep_until(expires_at) => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Steps forever on the clock until `shutdown` turns true, then resigns.
    /// Run as a task of its own beside the engine, so a step with a hanging
    /// call cannot delay a renewal; a renewal that hangs itself is abandoned
    /// after the lease duration (the grant runs out locally meanwhile).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let bound =
            std::time::Duration::from_secs(u64::from(self.settings.duration_seconds.max(1)));
        loop {
            if tokio::time::timeout(bound, self.step()).await.is_err() {
                tracing::warn!(holder = %self.holder, "lease step did not finish within the lease duration");
            }
            let wake = self.next_step_at();
            tokio::select! {
                _ = self.clock.sleep_until(wake) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        self.resign().await;
    }

    /// Gives the lease up so a successor need not wait for expiry.
    pub async fn resign(&self) {
        if let Some(lease) = self.held() {
            if let Err(error) = self
                .store
                .release_lease(&lease.name, &self.holder, lease.token)
                .await
            {
                tracing::warn!(%error, "could not release the lease; it will expire");
            }
        }
        self.set_held(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::VirtualClock;
    use crate::store::MemoryStore;
    use crate::time::epoch;

    fn elector(store: &Arc<MemoryStore>, clock: &VirtualClock, holder: &str) -> LeaderElector {
        LeaderElector::new(
            store.clone(),
            Arc::new(clock.clone()),
            holder,
            LeaseSettings::default(),
        )
    }

    #[tokio::test]
    async fn only_one_leads_and_the_other_takes_over_within_the_lease_duration() {
        let clock = VirtualClock::new(epoch());
        let store = Arc::new(MemoryStore::new());
        let a = elector(&store, &clock, "a");
        let b = elector(&store, &clock, "b");
        assert!(matches!(a.step().await, Leadership::Leading { .. }));
        assert_eq!(
            b.step().await,
            Leadership::Following {
                holder: Some("a".into())
            }
        );
        let first = a.fence().unwrap();
        // `a` dies: it stops renewing. `b` retries every 2 s and must win within 15 s.
        let mut waited = 0;
        loop {
            clock.advance_seconds(2);
            waited += 2;
            if let Leadership::Leading { fence, .. } = b.step().await {
                assert!(fence.token > first.token, "token must grow");
                break;
            }
            assert!(waited <= 16, "takeover took longer than the lease");
        }
        // The deposed leader's grant has run out locally, so it stops acting.
        assert_eq!(a.fence(), None);
        assert!(matches!(a.step().await, Leadership::Following { .. }));
    }

    #[tokio::test]
    async fn renewal_keeps_the_token_and_resign_hands_over_at_once() {
        let clock = VirtualClock::new(epoch());
        let store = Arc::new(MemoryStore::new());
        let a = elector(&store, &clock, "a");
        let b = elector(&store, &clock, "b");
        a.step().await;
        let token = a.fence().unwrap().token;
        for _ in 0..10 {
            clock.advance_seconds(5);
            a.step().await;
            assert_eq!(a.fence().unwrap().token, token);
            assert!(matches!(b.step().await, Leadership::Following { .. }));
        }
        let mut changes = a.subscribe();
        a.resign().await;
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), None);
        assert!(matches!(b.step().await, Leadership::Leading { .. }));
    }
}
