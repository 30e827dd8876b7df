"""Planning: capacity sizing, failure what-ifs and sweeps, capacity expansion and run-out dates.

Domain objects and results only; their HTML sections live in :mod:`surgeguard.report.sections`.
"""

from ..failures import FAILURE_KINDS, Failure, failure_scenarios
from .sizing import STANDARD_PORTS_BPS, round_to_ports, size_capacities
from .sweep import SweepResult, sweep
from .whatif import EcmpReconvergence, FailureEvaluation, WhatIf, WhatIfResult, evaluate_failure, run_whatif

__all__ = ["size_capacities", "round_to_ports", "STANDARD_PORTS_BPS"]

# failure what-ifs and sweeps (plan/whatif.py, plan/sweep.py); the failure model is surgeguard.failures
__all__ += ["Failure", "FAILURE_KINDS", "failure_scenarios", "evaluate_failure", "run_whatif", "WhatIf",
            "WhatIfResult", "FailureEvaluation", "EcmpReconvergence", "sweep", "SweepResult"]

# capacity planning and run-out dates (plan/capacity.py, plan/runout.py)
from .capacity import (DEFAULT_MODULES, CapacityPlan, PlanSettings, PortModule,  # noqa: E402
                       check_capacity, lockdown_plan_study, plan_capacity, planning_series, shortest_upgrade)
from .runout import RunoutResult, runout_dates  # noqa: E402

__all__ += ["PortModule", "DEFAULT_MODULES", "CapacityPlan", "PlanSettings", "plan_capacity", "planning_series",
            "shortest_upgrade", "check_capacity", "lockdown_plan_study", "RunoutResult", "runout_dates"]
