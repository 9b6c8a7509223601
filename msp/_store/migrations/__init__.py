"""Schema migrations of the store backends that migrate explicitly (PostgreSQL)."""
