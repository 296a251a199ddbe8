"""Operational conventions every service follows (DESIGN §7-8): how events go on the wire,
health and metrics endpoints, JSON logs. Shared so all four services behave the same."""
