"""HTTP API of the analytics service: one router per module."""
