"""Tandem analytics service: read models projected from the event stream."""
