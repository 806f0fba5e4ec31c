"""The request that registers a source, validated before anything is stored."""

from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.identifiers import SchemaName
from shared.providers import Provider

__all__ = ["BillingSource", "SourceRequest"]

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class BillingSource(BaseModel):
    """Where a provider's reports are delivered: an S3 bucket and a key prefix.

    For AWS the prefix and report name are the CUR's; for Azure and GCP the prefix is
    the export's folder and the report name its export name, as copied to S3.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(description="S3 bucket of the report.")
    report_prefix: str = Field("", description="Report path prefix inside the bucket.")
    report_name: str | None = Field(None, description="Report name; any when empty.")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET_RE.fullmatch(value) or ".." in value:
            raise ValueError(
                "must be an S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'"
            )
        return value

    @field_validator("report_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if ".." in value.split("/") or value.startswith("/"):
            raise ValueError("must be a relative key prefix without '..' components")
        return value.strip("/")


class SourceRequest(BaseModel):
    """A source to register: tenant, provider id and billing source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: SchemaName
    provider_uuid: UUID
    name: str = Field(min_length=1, max_length=200)
    type: Literal[
        "AWS", "AWS-local", "Azure", "Azure-local", "GCP", "GCP-local", "OCP"
    ] = "AWS"
    billing_source: BillingSource | None = Field(
        None, description="Where the reports are; required for cloud sources."
    )
    cluster_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
        description="OpenShift cluster id, as the operator's manifest names it.",
    )

    @model_validator(mode="after")
    def _source_fields(self) -> SourceRequest:
        if self.type == "OCP" and not self.cluster_id:
            raise ValueError("an OCP source needs cluster_id")
        if self.type != "OCP" and self.billing_source is None:
            raise ValueError(f"a {self.type} source needs billing_source")
        return self

    def to_provider(self) -> Provider:
        return Provider(
            uuid=self.provider_uuid,
            name=self.name,
            type=self.type,
            schema_name=self.schema_name,
            billing_source=(
                self.billing_source.model_dump()
                if self.billing_source is not None
                else {"cluster_id": self.cluster_id}
            ),
            setup_complete=False,
        )
