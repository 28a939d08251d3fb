"""The purger (write path): drains the outbox into every cache tier, with leases and retries."""
