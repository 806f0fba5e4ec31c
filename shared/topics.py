"""Topic names and the routing rule that picks one for an event.

One topic per queue class; classes with size variants have a default, an ``.xl`` and a
``.priority`` topic. Keys are ``<schema>:<provider_uuid>`` (or ``<schema>`` for
tenant-wide work) so one provider's events stay ordered on one partition.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

__all__ = [
    "QueueClass",
    "Size",
    "all_topics",
    "dead_letter_topic",
    "event_key",
    "topic_name",
]


class QueueClass(StrEnum):
    """Koku's queue families."""

    DEFAULT = "default"
    DOWNLOAD = "download"
    SUMMARY = "summary"
    COST_MODEL = "cost-model"
    REFRESH = "refresh"
    OCP = "ocp"
    PRIORITY = "priority"
    HCS = "hcs"
    SUBS_EXTRACTION = "subs.extraction"
    SUBS_TRANSMISSION = "subs.transmission"


class Size(StrEnum):
    """Variant of a sized queue class."""

    DEFAULT = "default"
    XL = "xl"
    PRIORITY = "priority"


SIZED_CLASSES = frozenset(
    {
        QueueClass.DOWNLOAD,
        QueueClass.SUMMARY,
        QueueClass.COST_MODEL,
        QueueClass.REFRESH,
        QueueClass.OCP,
        QueueClass.PRIORITY,
    }
)


def topic_name(prefix: str, queue: QueueClass, size: Size = Size.DEFAULT) -> str:
    """Return the topic of ``queue`` in ``size``; unsized classes ignore ``size``."""
    if queue in SIZED_CLASSES and size is not Size.DEFAULT:
        return f"{prefix}.{queue.value}.{size.value}"
    return f"{prefix}.{queue.value}"


def dead_letter_topic(prefix: str) -> str:
    """Return the topic that receives events no handler could take."""
    return f"{prefix}.dead-letter"


def all_topics(prefix: str) -> list[str]:
    """Return every internal topic, dead letters included."""
    names: list[str] = []
    for queue in QueueClass:
        sizes = list(Size) if queue in SIZED_CLASSES else [Size.DEFAULT]
        names.extend(topic_name(prefix, queue, size) for size in sizes)
    names.append(dead_letter_topic(prefix))
    return names


def topics_of_class(prefix: str, queue: QueueClass) -> list[str]:
    """Return the topics of one queue class, all its sizes."""
    sizes = list(Size) if queue in SIZED_CLASSES else [Size.DEFAULT]
    return [topic_name(prefix, queue, size) for size in sizes]


def parse_queue_name(prefix: str, queue: QueueClass, queue_name: str) -> Size:
    """Map a ``queue_name`` override to a size of ``queue``.

    Accepts Koku's spelling (``summary_xl``, ``download_priority``), the size alone
    (``xl``) or a full topic name.
    """

    def normal(text: str) -> str:
        return text.lower().replace("_", ".").replace("-", ".")

    given = normal(queue_name)
    for size in (Size.XL, Size.PRIORITY):
        spellings = {
            size.value,
            f"{queue.value}.{size.value}",
            topic_name(prefix, queue, size),
        }
        if given in {normal(spelling) for spelling in spellings}:
            return size
    return Size.DEFAULT


def event_key(schema_name: str | None, provider_uuid: UUID | None) -> str:
    """Return the partitioning key of an event."""
    if schema_name and provider_uuid:
        return f"{schema_name}:{provider_uuid}"
    return schema_name or "global"
