"""Kafka subscribers and HTTP routers of the escalation service."""
