"""Smoke test of the embedded engine on AWS, against moto: a worker created from
Python is launched as a tagged EC2 instance, and terminated again."""

import pytest

import ccm


def open_on(endpoint):
    return ccm.Engine.open(
        "memory", "aws",
        regions=["us-east-1"],
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        cml_password="unused-by-this-test",
        instance_type="m5zn.metal",
    )


def test_worker_launch_and_terminate_on_moto(moto_endpoint):
    boto3 = pytest.importorskip("boto3")
    engine = open_on(moto_endpoint)
    assert not engine.simulated
    with pytest.raises(ccm.Unsupported):
        engine.advance(10)

    worker = engine.create_worker("moto-1", tags={"team": "py"})
    for _ in range(5):
        engine.step()
        worker = engine.get_worker(worker.id)
        if worker.instance_id:
            break
    assert worker.instance_id and worker.instance_id.startswith("i-")
    assert worker.ami is not None and worker.ami.name.startswith("cml-2.9")

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    reservations = ec2.describe_instances(InstanceIds=[worker.instance_id])["Reservations"]
    instance = reservations[0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    assert tags["ccm:worker-id"] == worker.id
    assert tags["team"] == "py"
    assert instance["InstanceType"] == "m5zn.metal"

    # A second engine on the same cloud imports nothing twice: the instance is known.
    assert [w.id for w in engine.list_workers()] == [worker.id]

    engine.terminate_worker(worker.id)
    for _ in range(5):
        engine.step()
        state = ec2.describe_instances(InstanceIds=[worker.instance_id])[
            "Reservations"][0]["Instances"][0]["State"]["Name"]
        if state in ("shutting-down", "terminated"):
            break
    assert state in ("shutting-down", "terminated")


def test_cloud_errors_are_cloud_errors(moto_endpoint):
    engine = open_on(moto_endpoint)
    with pytest.raises(ccm.CcmError) as raised:
        engine.import_worker("i-0000000000000dead")
    assert isinstance(raised.value, (ccm.CloudError, ccm.NotFound))
