"""Evaluate routings: per-interval metrics (the one loss model), the replay against the oracle,
per-class evaluation, and the summary table."""

from .classes import ClassEvaluation, ClassReplayResult, evaluate_classes, replay_classes
from .metrics import Evaluation, evaluate, link_loss_fraction, path_loss_fraction
from .replay import ReplayResult, replay, replay_steps, summarise
from .tables import summary_table

__all__ = ["Evaluation", "evaluate", "link_loss_fraction", "path_loss_fraction", "ReplayResult", "replay",
           "replay_steps", "summarise", "summary_table", "ClassEvaluation", "ClassReplayResult",
           "evaluate_classes", "replay_classes"]
