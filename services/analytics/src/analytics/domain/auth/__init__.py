"""Who may read the reports: password hashes, signed session tokens and a login throttle, as
pure functions without FastAPI (the HTTP glue is analytics.api.auth)."""
