"""Tandem escalation service: decides when a conversation goes to a human."""
