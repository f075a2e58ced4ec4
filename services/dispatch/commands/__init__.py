"""Dispatch's use cases, each one transaction over a UnitOfWork."""
