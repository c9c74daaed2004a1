//! Event streams held open per caller. A stream holds a task, a store
//! subscription and a connection for as long as the client likes, so one
//! credential may hold only a few at once; the slot is given back when the
//! stream is dropped (the client went away, the stream ended).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::{AuthMethod, Principal};

/// Open streams by caller.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    key: String,
}

/// Who a slot is counted against: the subject and how it authenticated (an API
/// key by its id, since two keys may share a name).
fn caller(who: &Principal) -> String {
    match &who.method {
        AuthMethod::ApiKey { id } => format!("api_key:{id}"),
        AuthMethod::Jwt => format!("jwt:{}", who.subject),
        AuthMethod::Session { .. } => format!("session:{}", who.subject),
    }
}

impl StreamSlots {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, usize>) -> T) -> T {
        match self.open.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    /// A slot for `who`, or `None` when it already holds `per_caller` streams.
    pub fn acquire(self: &Arc<Self>, who: &Principal, per_caller: usize) -> Option<StreamSlot> {
        let key = caller(who);
        let granted = self.with(|open| {
            let count = open.entry(key.clone()).or_default();
            if *count >= per_caller {
                return false;
            }
            *count += 1;
            true
        });
        granted.then(|| StreamSlot {
            slots: self.clone(),
            key,
        })
    }

    /// Streams `who` holds open now.
    pub fn open_for(&self, who: &Principal) -> usize {
        let key = caller(who);
        self.with(|open| open.get(&key).copied().unwrap_or(0))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.slots.with(|open| {
            if let Some(count) = open.get_mut(&self.key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.key);
                }
            }
        });
    }
}
