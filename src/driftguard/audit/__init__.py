"""The audit trail: an append-only, hash-chained record of API calls and state changes."""
