"""Tests of the validators for tenant schemas and object-key components."""

import pytest

from shared.identifiers import (
    InvalidIdentifierError,
    quote_ident,
    validate_key_component,
    validate_schema_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "org1234567",
        "acct10001",
        "org_a1",
        "org" + "1" * 59,
        "acct" + "1" * 59,
    ],
)
def test_schema_accepts_tenant_name(name):
    assert validate_schema_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Org1234567", id="upper-case"),
        pytest.param("ORG1", id="all-upper-case"),
        pytest.param('org1"x', id="double-quote"),
        pytest.param("org1'x", id="single-quote"),
        pytest.param("org1; DROP TABLE x", id="statement"),
        pytest.param("", id="empty"),
        pytest.param("public", id="public"),
        pytest.param("org" + "1" * 61, id="64-chars"),
        pytest.param("acct" + "1" * 70, id="74-chars"),
        pytest.param("1org234", id="leading-digit"),
        pytest.param("org", id="prefix-only"),
        pytest.param("tenant1", id="other-prefix"),
        pytest.param("org1\n", id="trailing-newline"),
        pytest.param("org-1", id="hyphen"),
    ],
)
def test_schema_rejects_invalid_name(name):
    with pytest.raises(InvalidIdentifierError) as caught:
        validate_schema_name(name)
    assert repr(name) in str(caught.value)


def test_invalid_identifier_is_value_error():
    assert issubclass(InvalidIdentifierError, ValueError)


def test_quote_ident_wraps_in_double_quotes():
    assert quote_ident("org1234567") == '"org1234567"'


@pytest.mark.parametrize("name", ['org1"; DROP TABLE x; --', "public", ""])
def test_quote_ident_rejects_invalid_name(name):
    with pytest.raises(InvalidIdentifierError):
        quote_ident(name)


@pytest.mark.parametrize(
    "value",
    [
        "report-00001.csv.gz",
        "20261101-20261201",
        "day=2026-11-01",
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "A",
    ],
)
def test_key_component_accepts_safe_value(value):
    assert validate_key_component(value, field="file name") == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("..", id="parent"),
        pytest.param("a..b", id="inner-dot-dot"),
        pytest.param("a/b", id="slash"),
        pytest.param("/a", id="leading-slash"),
        pytest.param("", id="empty"),
        pytest.param(".hidden", id="leading-dot"),
        pytest.param("a b", id="space"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("a" * 256, id="256-chars"),
    ],
)
def test_key_component_rejects_unsafe_value(value):
    with pytest.raises(InvalidIdentifierError) as caught:
        validate_key_component(value, field="assembly id")
    message = str(caught.value)
    assert "assembly id" in message
    assert repr(value) in message
