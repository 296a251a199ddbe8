"""Real servers for tests: nats-server on a free loopback port, service processes, waiting."""
