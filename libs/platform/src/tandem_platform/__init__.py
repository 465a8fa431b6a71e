"""Plumbing every Tandem service shares. Nothing here knows a service's domain."""
