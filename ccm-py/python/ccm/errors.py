"""The exceptions ``ccm`` raises: one base, :class:`CcmError`, and a subclass per
kind of failure, mirroring ccm-core's error enum (``CoreError``) and the REST API's
error codes.

Every exception carries ``message`` (human text), ``code`` (a stable machine code
such as ``"not_found"``) and ``details`` (a dict of the structured fields, e.g.
``{"kind": "worker", "id": "…"}`` for :class:`NotFound`).
"""

from typing import Any, Dict, Optional

__all__ = [
    "CcmError",
    "NotFound",
    "Conflict",
    "CapacityExceeded",
    "InvalidTransition",
    "InvalidInput",
    "CloudError",
    "CmlError",
    "StoreError",
    "CorruptEventLog",
    "EventsGone",
    "Unsupported",
]


class CcmError(Exception):
    """Base of every ccm error."""

    message: str
    code: str
    details: Dict[str, Any]

    def __init__(
        self, message: str, code: str = "error", details: Optional[Dict[str, Any]] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, details={self.details!r})"


class NotFound(CcmError, LookupError):
    """A referenced resource (worker, lablet, definition, job, lab) does not exist."""


class Conflict(CcmError):
    """A concurrent change won (optimistic concurrency) or the resource already exists."""


class CapacityExceeded(Conflict):
    """An allocation does not fit the worker (``details["dimension"]`` says which)."""


class InvalidTransition(CcmError):
    """A state machine refused the move (``details``: ``machine``, ``from``, ``to``)."""


class InvalidInput(CcmError, ValueError):
    """An argument, setting or configuration failed validation (``details["field"]``)."""


class CloudError(CcmError):
    """EC2 or CloudWatch failed (``details["kind"]`` names the failure)."""


class CmlError(CcmError):
    """A CML server failed or refused (``details["kind"]`` names the failure)."""


class StoreError(CcmError):
    """The database failed (other than a version conflict)."""


class CorruptEventLog(StoreError):
    """A stored event log could not be replayed."""


class EventsGone(StoreError):
    """The events after the cursor asked for were compacted away (retention):
    list the resources again and read on from ``details["resume_after"]``
    (``details`` also has ``after`` and ``first_sequence``)."""


class Unsupported(CcmError):
    """The call is not possible on this engine (e.g. ``advance`` on the real clock)."""
