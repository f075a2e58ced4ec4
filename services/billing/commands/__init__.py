"""Billing's use cases over a UnitOfWork, reached from HTTP and from events."""
