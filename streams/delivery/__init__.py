"""Carrying out planned operations against Intercom: references, retries, the tables' upkeep."""

from streams.delivery.core import Delivered, PlanContext
from streams.delivery.executor import NEEDS_CONTACT, Call, Executor

__all__ = ["NEEDS_CONTACT", "Call", "Delivered", "Executor", "PlanContext"]
