"""Traffic-matrix estimation: from link loads and node totals to origin-destination matrices.

An operator measures the load of every link (interface counters) and each node's ingress and
egress totals (its customer- and peer-facing interfaces), not the matrix. With the IGP routing
matrix ``A`` (:func:`surgeguard.igp.ecmp_routing_matrix`) the link loads are ``y = A x``: far fewer
equations than unknown demands, so every method combines them with a prior.

* :class:`TMEstimator` (``fit(history=None, routing=None)``, ``predict(routing, link_loads, ingress,
  egress, times=None) -> (T, N, N)``) and its registry :data:`ESTIMATORS`: ``gravity``,
  ``tomogravity`` (Zhang et al., SIGMETRICS 2003) and ``history`` (a prior learned from measured
  matrices: interaction by time of day and its covariance). See :mod:`.methods`. On large
  networks ``predict(..., warm=previous.warm_)`` starts the solver where the last interval ended
  (:class:`~.system.WarmStart`; about half the iterations, the same answer to within ``tol``).
* :func:`estimate` (network or routing matrix, :class:`~surgeguard.telemetry.LinkLoads`) ->
  :class:`Estimate`: a :class:`~surgeguard.TrafficSeries` plus per-interval fit quality.
* :mod:`.metrics`: errors against measured matrices (the benchmark's protocol).

**Self-traffic** (``i -> i``, entering and leaving the network at the same node) crosses no link,
so only the node totals see it. By default (``self_traffic=True``) it is estimated like any other
pair: the gravity prior gives it ``in_i out_i / total`` and the correction moves it only as the
totals require (for a node with a single neighbour it is then exact: what enters there and is not
seen on its one outgoing link stayed local). Zhang's Abilene matrices count it (16 % of the bytes
in the 36 reference rows), so their errors include it. With ``self_traffic=False`` the diagonal
is fixed at 0, for data whose totals exclude it (SNDlib's copies of Abilene and GÉANT).
"""

from .base import ESTIMATORS, TMEstimator, available_estimators, check_measurements, get_estimator, register_estimator
from .facade import QUALITY_COLUMNS, Estimate, estimate, fit_quality
from .methods import Gravity, HistoryPrior, Tomogravity
from .metrics import error_summary, relative_errors, top_pairs
from .system import System, WarmStart, ipf

__all__ = [
    "TMEstimator", "ESTIMATORS", "register_estimator", "get_estimator", "available_estimators", "check_measurements",
    "Estimate", "estimate", "fit_quality", "QUALITY_COLUMNS",
    "Gravity", "Tomogravity", "HistoryPrior",
    "relative_errors", "top_pairs", "error_summary",
    "System", "WarmStart", "ipf",
]
