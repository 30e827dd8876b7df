"""The solvers, in one place: arrays in, arrays out; no policy, page or CLI code.

* :mod:`~surgeguard.optimise.highs`: the one builder/runner/status check for every LP and MILP;
* :mod:`~surgeguard.optimise.mlu`: the min-MLU LP over candidate paths (what-ifs change it in place);
* :mod:`~surgeguard.optimise.scenario`: the scenario (robust) LP over several matrices;
* :mod:`~surgeguard.optimise.classes`: the strict-priority class allocation LP;
* :mod:`~surgeguard.optimise.first_order`: the PyTorch first-order solver and its certified bounds;
* :mod:`~surgeguard.optimise.capacity`: the capacity-planning MILP and its heuristic;
* :mod:`~surgeguard.optimise.mcf`: the edge multicommodity-flow LP (an independent check).

Policies (:mod:`surgeguard.routing`) and planning (:mod:`surgeguard.plan`) call these; these
import only the core objects (network, paths, traffic, errors).
"""

from .mcf import edge_mcf_mlu
from .mlu import MluLP, solve_mlu_lp

__all__ = ["MluLP", "solve_mlu_lp", "edge_mcf_mlu"]
