"""The deterministic simulator: real cores over a seeded network, clock and faults."""
