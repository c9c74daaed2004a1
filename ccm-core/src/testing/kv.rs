//! Conformance suite for [`KeyValueStore`] adapters. Every check uses namespaces
//! of its own, so the suite also runs against a store other tests share.

use std::sync::Arc;

use crate::ports::kv::{Expect, KeyValueStore, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::ports::store::StoreError;
use crate::time::{from_unix_seconds, plus_seconds, Timestamp};

fn t0() -> Timestamp {
    from_unix_seconds(1_750_000_000)
}

fn at(seconds: i64) -> Timestamp {
    plus_seconds(t0(), seconds)
}

type Check = Result<(), String>;

fn ensure(ok: bool, what: &str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn fail(e: StoreError) -> String {
    e.to_string()
}

/// Runs every check; `prefix` makes the namespaces unique to this run.
pub async fn run_all(kv: Arc<dyn KeyValueStore>, prefix: &str) -> Check {
    versions_and_expectations(&*kv, &format!("{prefix}-v")).await?;
    expiry(&*kv, &format!("{prefix}-e")).await?;
    take_is_once(kv.clone(), &format!("{prefix}-t")).await?;
    listing(&*kv, &format!("{prefix}-l")).await?;
    bounds(&*kv, &format!("{prefix}-b")).await?;
    concurrent_absent_puts(kv, &format!("{prefix}-c")).await?;
    Ok(())
}

async fn versions_and_expectations(kv: &dyn KeyValueStore, ns: &str) -> Check {
    ensure(
        kv.get(ns, "a", t0()).await.map_err(fail)?.is_none(),
        "fresh key reads as absent",
    )?;
    let v1 = kv
        .put(ns, "a", "1", Expect::Absent, None, t0())
        .await
        .map_err(fail)?;
    ensure(v1 == 1, "first version is 1")?;
    let again = kv.put(ns, "a", "x", Expect::Absent, None, t0()).await;
    ensure(
        matches!(
            again,
            Err(StoreError::RecordConflict {
                actual: Some(1),
                ..
            })
        ),
        "Absent on a live record is a conflict naming version 1",
    )?;
    let stale = kv.put(ns, "a", "x", Expect::Version(7), None, t0()).await;
    ensure(
        matches!(stale, Err(StoreError::RecordConflict { .. })),
        "a wrong version is a conflict",
    )?;
    let v2 = kv
        .put(ns, "a", "2", Expect::Version(1), None, t0())
        .await
        .map_err(fail)?;
    ensure(v2 == 2, "a matching version writes version 2")?;
    let v3 = kv
        .put(ns, "a", "3", Expect::Any, None, t0())
        .await
        .map_err(fail)?;
    ensure(v3 == 3, "Any always writes")?;
    let got = kv.get(ns, "a", t0()).await.map_err(fail)?;
    ensure(
        got.as_ref().map(|e| (e.value.as_str(), e.version)) == Some(("3", 3)),
        "get returns the last value and version",
    )?;
    ensure(
        kv.get(&format!("{ns}x"), "a", t0())
            .await
            .map_err(fail)?
            .is_none(),
        "namespaces are apart",
    )?;
    kv.delete(ns, "a").await.map_err(fail)?;
    kv.delete(ns, "a").await.map_err(fail)?;
    ensure(
        kv.get(ns, "a", t0()).await.map_err(fail)?.is_none(),
        "deleted reads as absent",
    )?;
    Ok(())
}

async fn expiry(kv: &dyn KeyValueStore, ns: &str) -> Check {
    kv.put(ns, "s", "{}", Expect::Absent, Some(at(60)), t0())
        .await
        .map_err(fail)?;
    ensure(
        kv.get(ns, "s", at(59)).await.map_err(fail)?.is_some(),
        "live before expiry",
    )?;
    ensure(
        kv.get(ns, "s", at(60)).await.map_err(fail)?.is_none(),
        "absent at expiry",
    )?;
    ensure(
        kv.count(ns, at(60)).await.map_err(fail)? == 0,
        "expired records are not counted",
    )?;
    ensure(
        kv.take(ns, "s", at(61)).await.map_err(fail)?.is_none(),
        "expired cannot be taken",
    )?;
    kv.put(ns, "r", "{}", Expect::Absent, Some(at(60)), t0())
        .await
        .map_err(fail)?;
    let v = kv
        .put(ns, "r", "new", Expect::Absent, None, at(61))
        .await
        .map_err(fail)?;
    ensure(
        v == 1,
        "an expired record counts as absent and its successor starts at 1",
    )?;
    kv.put(ns, "gone", "{}", Expect::Any, Some(at(10)), t0())
        .await
        .map_err(fail)?;
    let purged = kv.purge_expired(at(100)).await.map_err(fail)?;
    ensure(purged >= 1, "purge removes expired records")?;
    ensure(
        kv.get(ns, "r", at(100)).await.map_err(fail)?.is_some(),
        "purge keeps live records",
    )?;
    Ok(())
}

async fn take_is_once(kv: Arc<dyn KeyValueStore>, ns: &str) -> Check {
    kv.put(ns, "token", "grant", Expect::Absent, Some(at(300)), t0())
        .await
        .map_err(fail)?;
    let mut racers = Vec::new();
    for _ in 0..8 {
        let kv = kv.clone();
        let ns = ns.to_owned();
        racers.push(tokio::spawn(
            async move { kv.take(&ns, "token", t0()).await },
        ));
    }
    let mut winners = 0;
    for racer in racers {
        match racer.await.map_err(|e| e.to_string())? {
            Ok(Some(entry)) => {
                ensure(entry.value == "grant", "take returns the value")?;
                winners += 1;
            }
            Ok(None) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    ensure(
        winners == 1,
        "exactly one of eight concurrent takes gets the record",
    )?;
    ensure(
        kv.get(ns, "token", t0()).await.map_err(fail)?.is_none(),
        "taken is gone",
    )?;
    Ok(())
}

async fn listing(kv: &dyn KeyValueStore, ns: &str) -> Check {
    for key in ["c", "a", "b"] {
        kv.put(ns, key, key, Expect::Any, None, t0())
            .await
            .map_err(fail)?;
    }
    kv.put(ns, "d", "d", Expect::Any, Some(at(1)), t0())
        .await
        .map_err(fail)?;
    kv.put(&format!("{ns}2"), "z", "z", Expect::Any, None, t0())
        .await
        .map_err(fail)?;
    let keys: Vec<String> = kv
        .list(ns, at(5), 10)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|e| e.key)
        .collect();
    ensure(
        keys == ["a", "b", "c"],
        "list is live records of the namespace in key order",
    )?;
    ensure(
        kv.list(ns, at(5), 2).await.map_err(fail)?.len() == 2,
        "list honours the limit",
    )?;
    ensure(
        kv.count(ns, at(5)).await.map_err(fail)? == 3,
        "count is live records",
    )?;
    Ok(())
}

async fn bounds(kv: &dyn KeyValueStore, ns: &str) -> Check {
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    ensure(
        matches!(
            kv.put(ns, &long_key, "v", Expect::Any, None, t0()).await,
            Err(StoreError::RecordTooLarge { .. })
        ),
        "a key beyond the bound is refused",
    )?;
    let big = "v".repeat(MAX_VALUE_BYTES + 1);
    ensure(
        matches!(
            kv.put(ns, "k", &big, Expect::Any, None, t0()).await,
            Err(StoreError::RecordTooLarge { .. })
        ),
        "a value beyond the bound is refused",
    )?;
    ensure(
        kv.count(ns, t0()).await.map_err(fail)? == 0,
        "a refused record changes nothing",
    )?;
    let quoted = "it's \"quoted\" \u{1F600} ; DROP TABLE x; --";
    kv.put(ns, quoted, quoted, Expect::Any, None, t0())
        .await
        .map_err(fail)?;
    let back = kv.get(ns, quoted, t0()).await.map_err(fail)?;
    ensure(
        back.map(|e| e.value).as_deref() == Some(quoted),
        "keys and values round-trip byte for byte",
    )?;
    Ok(())
}

async fn concurrent_absent_puts(kv: Arc<dyn KeyValueStore>, ns: &str) -> Check {
    let mut racers = Vec::new();
    for i in 0..8 {
        let kv = kv.clone();
        let ns = ns.to_owned();
        racers.push(tokio::spawn(async move {
            kv.put(&ns, "one", &i.to_string(), Expect::Absent, None, t0())
                .await
        }));
    }
    let mut created = 0;
    for racer in racers {
        match racer.await.map_err(|e| e.to_string())? {
            Ok(_) => created += 1,
            Err(StoreError::RecordConflict { .. }) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    ensure(
        created == 1,
        "exactly one of eight concurrent Absent puts succeeds",
    )?;
    Ok(())
}
