"""HTTP API of lead-intake: the JSON API, public form endpoints, the operator API."""
