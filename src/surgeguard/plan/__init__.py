"""Planning: capacity sizing, failure what-ifs and sweeps, capacity expansion and run-out dates.

Domain objects and results only; their HTML sections live in :mod:`surgeguard.report.sections`,
the solvers they call in :mod:`surgeguard.optimise`, the failure model in :mod:`surgeguard.failures`.
"""

from ..failures import FAILURE_KINDS, Failure, failure_scenarios
from .capacity import (DEFAULT_MODULES, CapacityPlan, PlanSettings, PortModule, check_capacity, lockdown_plan_study,
                       plan_capacity, planning_series, shortest_upgrade)
from .runout import RunoutResult, runout_dates
from .sizing import STANDARD_PORTS_BPS, round_to_ports, size_capacities
from .sweep import SweepResult, sweep
from .whatif import EcmpReconvergence, FailureEvaluation, WhatIf, WhatIfResult, evaluate_failure, run_whatif

__all__ = [
    "size_capacities", "round_to_ports", "STANDARD_PORTS_BPS",
    "Failure", "FAILURE_KINDS", "failure_scenarios", "evaluate_failure", "run_whatif", "WhatIf",
    "WhatIfResult", "FailureEvaluation", "EcmpReconvergence", "sweep", "SweepResult",
    "PortModule", "DEFAULT_MODULES", "CapacityPlan", "PlanSettings", "plan_capacity", "planning_series",
    "shortest_upgrade", "check_capacity", "lockdown_plan_study", "RunoutResult", "runout_dates",
]
