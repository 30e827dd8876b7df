"""Planning: capacity sizing (and, later, failure what-ifs and capacity expansion)."""

from .sizing import STANDARD_PORTS_BPS, round_to_ports, size_capacities

__all__ = ["size_capacities", "round_to_ports", "STANDARD_PORTS_BPS"]

# failure what-ifs (plan/whatif.py)
from .whatif import (FAILURE_KINDS, EcmpReconvergence, Failure, FailureEvaluation, WhatIf,  # noqa: E402
                     WhatIfResult, evaluate_failure, failure_scenarios, failures_section, run_whatif)

__all__ += ["Failure", "FAILURE_KINDS", "failure_scenarios", "evaluate_failure", "run_whatif", "WhatIf",
            "WhatIfResult", "FailureEvaluation", "EcmpReconvergence", "failures_section"]

# capacity planning and run-out dates (plan/capacity.py, plan/runout.py)
from .capacity import (DEFAULT_MODULES, CapacityPlan, PortModule, capacity_plan_section,  # noqa: E402
                       check_capacity, lockdown_plan_study, plan_capacity, planning_series, shortest_upgrade)
from .runout import RunoutResult, runout_dates  # noqa: E402

__all__ += ["PortModule", "DEFAULT_MODULES", "CapacityPlan", "plan_capacity", "planning_series", "shortest_upgrade",
            "check_capacity", "lockdown_plan_study", "capacity_plan_section", "RunoutResult", "runout_dates"]
