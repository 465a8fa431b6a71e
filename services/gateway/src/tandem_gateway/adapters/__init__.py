"""Adapters: the conversation service's HTTP API, Redis and Kafka behind the use cases' ports."""
