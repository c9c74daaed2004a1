//! The store conformance suite against the in-memory reference store.
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::testing::store::MemoryStoreFactory;

ccm_core::store_conformance_tests!(std::future::ready(MemoryStoreFactory));

/// The in-memory store keeps an unchanged booking once for its record and its
/// `lablet.created` event (the footprint goal of 100,000 bookings in < 150 MiB
/// rests on it), and the record still reads back at the store's version.
mod memory_footprint {
    use std::sync::Arc;

    use ccm_core::event::{EventPayload, StoredEvent};
    use ccm_core::ids::LabletId;
    use ccm_core::lablet::{Lablet, NewLablet, Timeslot};
    use ccm_core::ports::store::{ChangeSet, Store};
    use ccm_core::store::MemoryStore;
    use ccm_core::testing::store::{at, sample_definition, t0};

    fn created_body(events: &[StoredEvent]) -> Arc<Lablet> {
        match &events[0].event.payload {
            EventPayload::LabletCreated { lablet } => Arc::clone(lablet),
            other => panic!("expected lablet.created, got {}", other.type_name()),
        }
    }

    #[tokio::test]
    async fn an_unchanged_booking_shares_its_body_with_its_created_event() {
        let store = MemoryStore::new();
        let definition = sample_definition(1, "d", 1);
        let (lablet, event) = Lablet::create(
            LabletId::from_u128(7),
            &definition,
            NewLablet {
                owner: "alice".into(),
                timeslot: Timeslot {
                    start: at(600),
                    end: at(4200),
                },
                reservation_id: None,
            },
            t0(),
        )
        .unwrap();
        store
            .commit(ChangeSet::new().put_lablet(lablet.clone()).events([event]))
            .await
            .unwrap();
        let body = created_body(&store.read_events(0, 10).await.unwrap());
        // The log's copy plus the record's, and `body` here: one allocation.
        assert_eq!(Arc::strong_count(&body), 3);
        let read = store.get_lablet(lablet.id).await.unwrap().unwrap();
        assert_eq!(read.meta.version, 1);
        assert_eq!(body.meta.version, 0, "the event keeps the state it carried");

        drop(body);
        let mut changed = read.clone();
        changed.spec.cancel_requested = true;
        store
            .commit(ChangeSet::new().put_lablet(changed))
            .await
            .unwrap();
        let body = created_body(&store.read_events(0, 10).await.unwrap());
        assert_eq!(
            Arc::strong_count(&body),
            2,
            "a changed record has its own body"
        );
        let read = store.get_lablet(lablet.id).await.unwrap().unwrap();
        assert_eq!(read.meta.version, 2);
        assert!(read.spec.cancel_requested);
        let listed = store.list_lablets(&Default::default()).await.unwrap();
        assert_eq!(listed, vec![read]);
    }
}
