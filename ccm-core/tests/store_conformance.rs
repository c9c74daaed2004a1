//! The store conformance suite against the in-memory reference store.
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::testing::store::MemoryStoreFactory;

ccm_core::store_conformance_tests!(std::future::ready(MemoryStoreFactory));

/// The in-memory store keeps an unchanged booking once for its record and its
/// `lablet.created` event (the footprint goal of 100,000 bookings in < 150 MiB
/// rests on it), and the record still reads back at the store's version.
mod memory_footprint {
    use ccm_core::event::EventPayload;
    use ccm_core::ids::LabletId;
    use ccm_core::lablet::{Lablet, NewLablet, Timeslot};
    use ccm_core::ports::store::{ChangeSet, Store};
    use ccm_core::replay::EventSourced;
    use ccm_core::store::MemoryStore;
    use ccm_core::testing::store::{at, sample_definition, t0};

    /// A booking's event carries the request, not a second copy of the lablet
    /// (100,000 bookings made far ahead would otherwise be held twice), and the
    /// lablet replays from it exactly.
    #[tokio::test]
    async fn a_booking_is_logged_as_its_request_and_replays_to_the_record() {
        let store = MemoryStore::new();
        let definition = sample_definition(1, "d", 1);
        let request = NewLablet {
            owner: "alice".into(),
            timeslot: Timeslot {
                start: at(600),
                end: at(4200),
            },
            reservation_id: None,
            on_demand: false,
        };
        let (lablet, event) =
            Lablet::create(LabletId::from_u128(7), &definition, request.clone(), t0()).unwrap();
        store
            .commit(ChangeSet::new().put_lablet(lablet.clone()).events([event]))
            .await
            .unwrap();
        let logged = store.read_events(0, 10).await.unwrap();
        match &logged[0].event.payload {
            EventPayload::LabletCreatedV2 {
                request: carried,
                definition_id,
                ..
            } => {
                assert_eq!(*carried, request);
                assert_eq!(*definition_id, definition.id);
            }
            other => panic!("expected lablet.created.v2, got {}", other.type_name()),
        }
        let json = serde_json::to_string(&logged[0].event).unwrap();
        assert!(
            !json.contains("\"status\""),
            "the event holds no lablet: {json}"
        );
        let replayed = Lablet::from_events([&logged[0].event]).unwrap();
        let mut read = store.get_lablet(lablet.id).await.unwrap().unwrap();
        assert_eq!(read.meta.version, 1);
        read.meta.version = 0;
        assert_eq!(replayed, read);
    }
}
