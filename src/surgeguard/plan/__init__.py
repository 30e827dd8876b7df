"""Planning: capacity sizing (and, later, failure what-ifs and capacity expansion)."""

from .sizing import STANDARD_PORTS_BPS, round_to_ports, size_capacities

__all__ = ["size_capacities", "round_to_ports", "STANDARD_PORTS_BPS"]

# failure what-ifs (plan/whatif.py)
from .whatif import (FAILURE_KINDS, EcmpReconvergence, Failure, FailureEvaluation, WhatIf,  # noqa: E402
                     WhatIfResult, evaluate_failure, failure_scenarios, failures_section, run_whatif)

__all__ += ["Failure", "FAILURE_KINDS", "failure_scenarios", "evaluate_failure", "run_whatif", "WhatIf",
            "WhatIfResult", "FailureEvaluation", "EcmpReconvergence", "failures_section"]
