"""Carrying out planned operations against Intercom: references, retries, the tables' upkeep."""

from streams.delivery.executor import Call, Executor

__all__ = ["Call", "Executor"]
