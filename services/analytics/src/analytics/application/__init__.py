"""Use cases: the projection, rebuild, ad spend, lag and ops status; `reports/` the read side."""
