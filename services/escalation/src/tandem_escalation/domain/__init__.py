"""Escalation rules: pure functions, no I/O."""
