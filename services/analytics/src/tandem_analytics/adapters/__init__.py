"""Postgres read models of the analytics service (schema ``analytics``)."""
