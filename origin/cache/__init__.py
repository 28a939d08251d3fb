"""The origin's cache tiers (read path): in-process L1, Redis L2 with its tag index, the circuit
breaker, single flight, popular-query tracking and cross-instance invalidation."""
