"""`make bench`: throughput and latency of the paths that matter, each against a baseline
measured in the same run on the same machine. Not part of `make test` (docs/testing.md)."""
