"""Routings and the policies that choose them.

Policies share one signature (:class:`Policy`): ``route(network, paths, tm)`` and
``decide(network, paths, history)``, and one registry (:data:`POLICIES`). Importing this package
registers them all: ``shortest`` (IGP + ECMP), ``optimal`` (HiGHS LP), ``optimal-last``,
``optimal-forecast``, ``robust``, ``fast`` (PyTorch; torch is imported only when it runs),
``learned``, ``priority`` and ``switching``. The path builders live in :mod:`surgeguard.paths` and
are re-exported here for convenience.
"""

from ..paths import PathSet, all_simple_paths, k_shortest_paths, paths_from_node_lists, read_tunnels_file
from . import hedge, learned, priority, robust, switching  # noqa: F401  (each registers its policies)
from .fast import FastTE
from .optimal import Optimal, solve_mlu_lp
from .policies import POLICIES, Policy, get_policy, policy_names, register_policy, solve
from .routing import Routing
from .shortest import ShortestPath, ecmp_splits

__all__ = ["PathSet", "Routing", "Policy", "POLICIES", "ShortestPath", "Optimal", "FastTE", "k_shortest_paths",
           "all_simple_paths", "paths_from_node_lists", "read_tunnels_file", "get_policy",
           "register_policy", "policy_names", "solve", "ecmp_splits", "solve_mlu_lp"]
