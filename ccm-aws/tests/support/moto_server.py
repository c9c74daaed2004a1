"""moto's server, with two gaps closed where moto differs from EC2 in ways ccm's
tests depend on. Run as `python moto_server.py --host 127.0.0.1 --port N` (or with
`python -c`): it takes moto_server's own arguments.

- MonitorInstances / UnmonitorInstances: moto raises NotImplementedError (HTTP 500).
  Here they set the instance's monitoring state, and refuse unknown ids with
  InvalidInstanceID.NotFound, as EC2 does.
- CreateTags / DeleteTags on an unknown instance id: moto accepts them silently;
  EC2 answers InvalidInstanceID.NotFound. Here unknown `i-` ids are refused.

Everything else is moto as installed.
"""

import sys

from moto.core.responses import ActionResult
from moto.ec2.responses.monitoring import Monitoring
from moto.ec2.responses.tags import TagResponse


def _set_monitoring(response, state):
    response.error_on_dryrun()
    ids = response._get_param("InstanceIds", [])
    instances = [response.ec2_backend.get_instance(i) for i in ids]  # raises NotFound
    for instance in instances:
        instance.monitoring_state = state
    return ActionResult(
        {
            "InstanceMonitorings": [
                {"InstanceId": i.id, "Monitoring": {"State": state}} for i in instances
            ]
        }
    )


def _monitor_instances(self):
    return _set_monitoring(self, "enabled")


def _unmonitor_instances(self):
    return _set_monitoring(self, "disabled")


Monitoring.monitor_instances = _monitor_instances
Monitoring.unmonitor_instances = _unmonitor_instances


def _checking_instances(original):
    def checked(self):
        for resource_id in self._get_param("Resources", []):
            if resource_id.startswith("i-"):
                self.ec2_backend.get_instance(resource_id)  # raises NotFound
        return original(self)

    return checked


TagResponse.create_tags = _checking_instances(TagResponse.create_tags)
TagResponse.delete_tags = _checking_instances(TagResponse.delete_tags)


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
