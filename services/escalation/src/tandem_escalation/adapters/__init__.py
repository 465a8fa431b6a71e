"""Postgres storage of the escalation service (schema ``escalation``)."""
