"""Tandem gateway: the stateless HTTP and websocket edge for widgets, agents and dashboards."""

__version__ = "0.1.0"
