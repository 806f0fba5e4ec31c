"""The error tree. Retry semantics live on the class, so the runtime decides by type."""

from __future__ import annotations

__all__ = ["BadInputError", "CostpipeError", "ObjectNotFoundError", "TransientError"]


class CostpipeError(Exception):
    """Root of costpipe's errors."""

    retriable = False


class BadInputError(CostpipeError):
    """Input that no retry can fix: the message names the file, row or field and the fix."""


class ObjectNotFoundError(BadInputError):
    """An object key that the input names is missing from its bucket."""


class TransientError(CostpipeError):
    """A failure of a server or the network that a later attempt may not meet."""

    retriable = True
