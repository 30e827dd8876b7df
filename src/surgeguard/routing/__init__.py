"""Candidate paths, routings and the policies that choose them.

Policies share one signature (:class:`Policy`): ``route(network, paths, tm)`` and
``decide(network, paths, history)``. Registered: ``shortest`` (IGP + ECMP) and ``optimal``
(HiGHS LP); others register themselves when their module is imported.
"""

from ..paths import PathSet, all_simple_paths, k_shortest_paths, paths_from_node_lists, read_tunnels_file
from .policies import Policy, get_policy, policy_names, register_policy, solve
from .routing import Routing
from .shortest import ShortestPath, ecmp_splits
from .optimal import Optimal, solve_mlu_lp

__all__ = ["PathSet", "Routing", "Policy", "ShortestPath", "Optimal", "k_shortest_paths",
           "all_simple_paths", "paths_from_node_lists", "read_tunnels_file", "get_policy",
           "register_policy", "policy_names", "solve", "ecmp_splits", "solve_mlu_lp"]
from . import priority  # noqa: E402,F401  (registers the "priority" policy)
from . import robust  # noqa: E402,F401  (registers "robust", "optimal-last", "optimal-forecast")
from . import learned  # noqa: E402,F401  (registers "learned"; torch is imported only when a model is used)
from . import switching  # noqa: E402,F401  (registers "switching": base policy, another after a surge alert)
from .fast import FastTE  # noqa: E402,F401  (registers "fast"; torch is imported only when the policy runs)
