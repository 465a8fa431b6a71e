"""Kafka subscriber and HTTP API of the analytics service."""
