"""Edges of lead intake: NATS KV (forms, idempotency keys), the SQLite spool."""
