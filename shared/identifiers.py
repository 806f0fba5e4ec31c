"""Validators for names that reach SQL or object keys.

Tenant schemas, provider ids and object-key components are checked here before any
query or key is built from them, so a value from an event or a request can never
change the shape of a statement or escape its prefix.
"""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator

__all__ = [
    "InvalidIdentifierError",
    "SchemaName",
    "quote_ident",
    "validate_key_component",
    "validate_schema_name",
]

# Koku names tenants ``org<org id>`` (or ``acct<account>`` for legacy tenants). We
# accept that shape only: lower-case, starting with a letter, at most 63 bytes
# (PostgreSQL's identifier limit).
_SCHEMA_RE = re.compile(r"^(org|acct)[0-9a-z_]{1,59}$")
_RESERVED_SCHEMAS = frozenset({"public", "costpipe", "information_schema"})
_KEY_COMPONENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,254}$")


class InvalidIdentifierError(ValueError):
    """A name that must not reach SQL or storage."""


def validate_schema_name(name: str) -> str:
    """Return ``name`` if it is a valid tenant schema, else raise."""
    if not _SCHEMA_RE.fullmatch(name) or name in _RESERVED_SCHEMAS:
        raise InvalidIdentifierError(
            f"invalid tenant schema name {name!r}: expected 'org' or 'acct' followed "
            "by 1-59 lower-case letters, digits or underscores, such as 'org1234567'"
        )
    return name


SchemaName = Annotated[str, AfterValidator(validate_schema_name)]


def quote_ident(name: str) -> str:
    """Quote a validated schema name for SQL."""
    return '"' + validate_schema_name(name) + '"'


def validate_key_component(value: str, *, field: str) -> str:
    """Return ``value`` if it is safe as one component of an object key."""
    if not _KEY_COMPONENT_RE.fullmatch(value) or ".." in value:
        raise InvalidIdentifierError(
            f"invalid {field} {value!r} for an object key: use letters, digits and "
            "'._=-' only, starting with a letter or digit, with no '..'"
        )
    return value


def provider_key(provider_uuid: UUID) -> str:
    """Return the provider's id as it appears in keys and partitions."""
    return str(provider_uuid)
