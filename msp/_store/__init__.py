"""The store: one interface for events, projections and the outbox, and its backends."""
