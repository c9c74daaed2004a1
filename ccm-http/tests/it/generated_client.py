"""Drives ccm through a client generated from its OpenAPI document.

Run by `contract.rs::a_python_client_generated_from_the_document_books_a_lablet`
with the generated package `ccm_client` on PYTHONPATH, the server's base URL as the
first argument and an admin API key in CCM_API_KEY. Only generated code talks to
the server: typed request models in, typed response models out.
"""

import datetime
import os
import sys
import uuid

from ccm_client import AuthenticatedClient
from ccm_client.api.events import get_api_v1_events
from ccm_client.api.lablets import (
    get_api_v1_lablets_id,
    post_api_v1_definitions,
    post_api_v1_lablets,
)
from ccm_client.models import (
    CreateDefinition,
    CreateLablet,
    ErrorBody,
    EventHistory,
    Lablet,
    LabletCreatedV2,
    LabletCreatedV2Event,
    LabletDefinition,
    LabletPhase,
    Timeslot,
)

TOPOLOGY = """lab:
  title: generated-client
nodes:
  - id: n0
    label: r1
    node_definition: iosv
links: []
"""


def main() -> None:
    client = AuthenticatedClient(base_url=sys.argv[1], token=os.environ["CCM_API_KEY"])
    name = f"generated-client-{uuid.uuid4().hex[:8]}"

    definition = post_api_v1_definitions.sync(
        client=client,
        body=CreateDefinition.from_dict(
            {
                "name": name,
                "version": "1.0.0",
                "topology_yaml": TOPOLOGY,
                "needs": {
                    "resources": {"cpu_millis": 2000, "memory_mib": 2048, "storage_gib": 10},
                    "nodes": 1,
                    "ports": 1,
                },
                "max_duration_minutes": 120,
                "warm_pool_depth": 0,
            }
        ),
    )
    assert isinstance(definition, LabletDefinition), definition
    assert definition.meta.name == name

    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    booked = post_api_v1_lablets.sync(
        client=client,
        body=CreateLablet(
            definition_id=definition.id,
            timeslot=Timeslot(start=start, end=start + datetime.timedelta(hours=1)),
        ),
    )
    assert isinstance(booked, Lablet), booked
    assert booked.spec.definition_id == definition.id

    read = get_api_v1_lablets_id.sync(client=client, id=booked.id)
    assert isinstance(read, Lablet), read
    assert read.id == booked.id
    assert isinstance(read.status.phase, LabletPhase), read.status.phase
    # Timestamps arrive typed.
    assert isinstance(read.spec.timeslot.start, datetime.datetime)
    assert read.spec.timeslot.start == booked.spec.timeslot.start

    # An error answer is typed too.
    missing = get_api_v1_lablets_id.sync(client=client, id=definition.id)
    assert isinstance(missing, ErrorBody), missing
    assert missing.error.code == "not_found"

    # Events are typed by their `type`: the booking's event carries the request.
    history = get_api_v1_events.sync(client=client, type_="lablet.created.v2", limit=1000)
    assert isinstance(history, EventHistory), history
    created = [e for e in history.events if isinstance(e, LabletCreatedV2Event)]
    ours = [e for e in created if e.subject.id == str(booked.id)]
    assert [e.data.definition_id for e in ours] == [definition.id], created
    assert all(isinstance(e.data, LabletCreatedV2) for e in created)
    assert ours[0].data.request.timeslot.start == booked.spec.timeslot.start
    assert isinstance(ours[0].occurred_at, datetime.datetime)

    print(f"booked and read back lablet {read.id} ({read.status.phase.value})")


if __name__ == "__main__":
    main()
