"""Evaluate routings: per-interval metrics and the replay over a traffic series."""

from .metrics import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate"]
