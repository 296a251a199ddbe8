"""Edges of lead intake: JetStream, NATS KV (forms, idempotency keys), the SQLite spool."""
