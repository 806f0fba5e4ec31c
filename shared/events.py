"""The event envelope that every message on an internal topic carries.

An event names work; it never carries line items. Ids of follow-up events are derived
from the parent's id, so a handler that runs twice emits the same follow-ups and the
consumers' inboxes drop the second copy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.identifiers import SchemaName

__all__ = ["Envelope", "Payload", "derive_event_id", "new_tracing_id"]

# Namespace of ``uuid5`` ids that are derived from something other than a parent
# event, such as a scheduler tick or a manifest.
EVENT_NAMESPACE = uuid.UUID("6f1f3c0e-3a57-4c38-9d0c-4a0f7e1c2b11")


class Payload(BaseModel):
    """Parameters of one task, as Koku's task signature lists them."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(BaseModel):
    """Metadata around a task's payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    task: str = Field(description="The Koku task name this event replaces.")
    version: int = 1
    tracing_id: str
    schema_name: SchemaName | None = None
    provider_uuid: uuid.UUID | None = None
    attempt: int = Field(0, ge=0, description="Retries so far.")
    not_before: AwareDatetime | None = None
    created_at: AwareDatetime
    replay_of: uuid.UUID | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def child(
        self,
        task: str,
        payload: Payload,
        *,
        discriminator: str = "",
        schema_name: str | None = None,
        provider_uuid: uuid.UUID | None = None,
    ) -> Envelope:
        """Build a follow-up event whose id is fixed by this event and ``task``."""
        return Envelope(
            event_id=derive_event_id(self.event_id, task, discriminator),
            task=task,
            tracing_id=self.tracing_id,
            schema_name=schema_name if schema_name is not None else self.schema_name,
            provider_uuid=provider_uuid
            if provider_uuid is not None
            else self.provider_uuid,
            created_at=datetime.now(UTC),
            payload=payload.model_dump(mode="json"),
        )


def derive_event_id(
    parent: uuid.UUID | str, task: str, discriminator: str = ""
) -> uuid.UUID:
    """Return the id of a follow-up event, stable across re-runs of its parent."""
    namespace = (
        parent if isinstance(parent, uuid.UUID) else uuid.uuid5(EVENT_NAMESPACE, parent)
    )
    return uuid.uuid5(namespace, f"{task}\x1f{discriminator}")


def new_tracing_id() -> str:
    """Return a fresh tracing id for work that starts outside any event."""
    return str(uuid.uuid4())
