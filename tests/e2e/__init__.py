"""End-to-end tests: the real broker driven by real Kafka clients."""
