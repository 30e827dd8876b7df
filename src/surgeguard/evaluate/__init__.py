"""Evaluate routings: per-interval metrics and the replay over a traffic series."""

from .metrics import Evaluation, evaluate
from .replay import ReplayResult, replay, summarise

__all__ = ["Evaluation", "evaluate", "ReplayResult", "replay", "summarise"]
