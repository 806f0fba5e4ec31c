"""Tests of topic naming, the queue-name override and event keys."""

from uuid import UUID

import pytest

from shared.topics import (
    QueueClass,
    Size,
    all_topics,
    dead_letter_topic,
    event_key,
    parse_queue_name,
    topic_name,
)

PREFIX = "costpipe"
PROVIDER = UUID("11111111-2222-3333-4444-555555555555")


@pytest.mark.parametrize(
    ("queue", "size", "expected"),
    [
        (QueueClass.SUMMARY, Size.DEFAULT, "costpipe.summary"),
        (QueueClass.SUMMARY, Size.XL, "costpipe.summary.xl"),
        (QueueClass.SUMMARY, Size.PRIORITY, "costpipe.summary.priority"),
        (QueueClass.DOWNLOAD, Size.XL, "costpipe.download.xl"),
        (QueueClass.COST_MODEL, Size.XL, "costpipe.cost-model.xl"),
        (QueueClass.PRIORITY, Size.PRIORITY, "costpipe.priority.priority"),
        (QueueClass.HCS, Size.DEFAULT, "costpipe.hcs"),
        (QueueClass.HCS, Size.XL, "costpipe.hcs"),
        (QueueClass.DEFAULT, Size.PRIORITY, "costpipe.default"),
        (QueueClass.SUBS_EXTRACTION, Size.XL, "costpipe.subs.extraction"),
    ],
)
def test_topic_name(queue, size, expected):
    assert topic_name(PREFIX, queue, size) == expected


def test_topic_name_defaults_to_default_size():
    assert topic_name(PREFIX, QueueClass.OCP) == "costpipe.ocp"


def test_dead_letter_topic():
    assert dead_letter_topic(PREFIX) == "costpipe.dead-letter"


def test_all_topics_lists_every_topic():
    sized = ["download", "summary", "cost-model", "refresh", "ocp", "priority"]
    expected = {f"costpipe.{queue}" for queue in sized}
    expected |= {f"costpipe.{queue}.xl" for queue in sized}
    expected |= {f"costpipe.{queue}.priority" for queue in sized}
    expected |= {
        "costpipe.default",
        "costpipe.hcs",
        "costpipe.subs.extraction",
        "costpipe.subs.transmission",
        "costpipe.dead-letter",
    }
    assert set(all_topics(PREFIX)) == expected


def test_all_topics_count():
    # 6 sized classes x 3 sizes + 4 unsized classes + the dead-letter topic.
    assert len(all_topics(PREFIX)) == 23


def test_all_topics_has_no_duplicates():
    topics = all_topics(PREFIX)
    assert len(set(topics)) == len(topics)


@pytest.mark.parametrize(
    ("queue", "queue_name", "expected"),
    [
        (QueueClass.SUMMARY, "summary_xl", Size.XL),
        (QueueClass.SUMMARY, "SUMMARY_XL", Size.XL),
        (QueueClass.SUMMARY, "xl", Size.XL),
        (QueueClass.SUMMARY, "priority", Size.PRIORITY),
        (QueueClass.DOWNLOAD, "download_priority", Size.PRIORITY),
        (QueueClass.SUMMARY, "costpipe.summary.xl", Size.XL),
        (QueueClass.SUMMARY, "costpipe.summary.priority", Size.PRIORITY),
        (QueueClass.SUMMARY, "summary", Size.DEFAULT),
        (QueueClass.SUMMARY, "", Size.DEFAULT),
        (QueueClass.SUMMARY, "no-such-queue", Size.DEFAULT),
        (QueueClass.SUMMARY, "download_xl", Size.DEFAULT),
        (QueueClass.SUMMARY, "costpipe.download.xl", Size.DEFAULT),
    ],
)
def test_parse_queue_name(queue, queue_name, expected):
    assert parse_queue_name(PREFIX, queue, queue_name) is expected


def test_parse_queue_name_koku_cost_model_xl():
    assert parse_queue_name(PREFIX, QueueClass.COST_MODEL, "cost_model_xl") is Size.XL


@pytest.mark.parametrize(
    ("schema_name", "provider_uuid", "expected"),
    [
        ("org1234567", PROVIDER, "org1234567:11111111-2222-3333-4444-555555555555"),
        ("org1234567", None, "org1234567"),
        (None, None, "global"),
        ("", None, "global"),
        (None, PROVIDER, "global"),
    ],
)
def test_event_key(schema_name, provider_uuid, expected):
    assert event_key(schema_name, provider_uuid) == expected
