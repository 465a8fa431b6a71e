"""Tandem conversation service: owns conversations, messages, statuses and sites."""
