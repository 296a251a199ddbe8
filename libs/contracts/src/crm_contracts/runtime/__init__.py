"""Operational conventions every service follows (docs/architecture.md): how events go on the wire,
health and metrics endpoints, JSON logs. Shared so all four services behave the same."""
