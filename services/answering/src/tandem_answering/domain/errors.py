"""Errors of the domain rules (each one the caller's mistake: a 4xx at the HTTP edge)."""

from __future__ import annotations


class InvalidDocumentError(ValueError):
    """The document cannot be ingested as given (the caller's mistake, a 4xx)."""
