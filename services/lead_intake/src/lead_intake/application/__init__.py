"""Use cases of lead intake, one module each; their I/O goes through the ports in `ports`."""
