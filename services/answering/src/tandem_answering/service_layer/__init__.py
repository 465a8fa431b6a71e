"""Use cases: one class per job, called by the HTTP API, the Kafka consumer and the CLI."""
