"""The one place where surgeguard talks to HiGHS: build, load, run, read the status.

Every LP and MILP of the package (min-MLU, scenario, class allocation, capacity planning, the
edge MCF check) is built with :func:`build_lp` from column-wise (CSC) arrays or a SciPy sparse
matrix, loaded with :func:`load` and solved with :func:`run`, which reads the model status
explicitly: optimal returns, infeasible raises :class:`~surgeguard.InfeasibleError`, anything else
raises :class:`~surgeguard.SolverError` (unless the caller accepts a feasible point at a time
limit, as the capacity MILP does).

>>> import numpy as np, scipy.sparse as sp
>>> lp = build_lp(cost=[1.0, 1.0], lower=[0, 0], upper=[INF, INF],
...               row_lower=[1.0], row_upper=[INF], matrix=sp.csc_matrix(np.array([[1.0, 2.0]])))
>>> h = load(lp)
>>> run(h, "a tiny LP")
'Optimal'
>>> round(objective(h), 6)
0.5
>>> lp = build_lp(cost=[1.0], lower=[0], upper=[1], row_lower=[2.0], row_upper=[INF],
...               matrix=sp.csc_matrix(np.array([[1.0]])))
>>> run(load(lp), "an infeasible LP")
Traceback (most recent call last):
...
surgeguard.exceptions.InfeasibleError: HiGHS found an infeasible LP infeasible; check the demands, capacities and limits that define it
"""

from __future__ import annotations

import os
import sys

import highspy
import numpy as np
import scipy.sparse as sp

from ..exceptions import InfeasibleError, SolverError

__all__ = ["INF", "new_highs", "build_lp", "load", "run", "objective", "primal", "solver_options",
           "has_solution", "set_basis", "grow_basis", "simplex_iterations",
           "load_arrays", "row_duals"]

#: HiGHS' infinity, for open bounds.
INF = highspy.kHighsInf

_BANNER_DONE = False
#: the ``threads`` option HiGHS' process-wide thread scheduler was last (re)started with
_SCHEDULER_THREADS: int | None = None


def new_highs(options: dict | None = None) -> highspy.Highs:
    """A silent ``Highs`` instance with ``options`` set by name.

    HiGHS prints a banner to file descriptor 1 when the first instance is created, before any
    option can be set; that would corrupt ``--json`` output, so the first construction runs with
    fd 1 pointed at /dev/null.

    """
    global _BANNER_DONE
    if not _BANNER_DONE:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_DONE = True
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in (options or {}).items():
        h.setOptionValue(k, v)
    return h


def solver_options(solver: str | None = None, time_limit: float | None = None, threads: int | None = None,
                   **extra) -> dict:
    """The HiGHS options dict for the usual knobs (``None`` leaves HiGHS' default).

    ``solver="central"`` is HiGHS' interior-point method stopped at its optimal interior point,
    without the crossover to a vertex: where the LP has many optima (a min-MLU or scenario LP's
    non-bottleneck links), a point near the centre of the optimal face rather than one of its
    vertices (used by ``optimal-last`` and ``robust``, which route the *next* interval with it:
    :mod:`surgeguard.optimise.scenario` has the measurements)."""
    opts = {}
    if solver == "central":
        opts.update(solver="ipm", run_crossover="off")
    elif solver is not None:
        opts["solver"] = solver
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    if threads is not None:
        opts["threads"] = int(threads)
    opts.update({k: v for k, v in extra.items() if v is not None})
    return opts


def build_lp(*, cost, lower, upper, row_lower, row_upper, matrix=None, start=None, index=None, value=None,
             integer: int | np.ndarray | None = None) -> highspy.HighsLp:
    """A ``HighsLp`` (minimise ``cost @ x``) from arrays.

    The constraint matrix is given either as ``matrix`` (any SciPy sparse matrix, converted to
    CSC) or as the CSC arrays ``start``/``index``/``value``. ``integer`` marks integer columns: a
    count (the first ``integer`` columns) or a boolean mask.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n_col, n_row = len(cost), len(row_lower)
    if matrix is not None:
        A = sp.csc_matrix(matrix)
        if A.shape != (n_row, n_col):
            raise ValueError(f"matrix has shape {A.shape}; the LP has {n_row} rows and {n_col} columns")
        start, index, value = A.indptr, A.indices, A.data
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, n_row
    lp.col_cost_ = cost
    lp.col_lower_ = np.asarray(lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
    a = lp.a_matrix_
    a.format_ = highspy.MatrixFormat.kColwise
    a.start_ = np.asarray(start, dtype=np.int32)
    a.index_ = np.asarray(index, dtype=np.int32)
    a.value_ = np.asarray(value, dtype=np.float64)
    a.num_col_, a.num_row_ = n_col, n_row
    if integer is not None:
        mask = np.zeros(n_col, bool)
        if np.ndim(integer) == 0:
            mask[:int(integer)] = True
        else:
            mask[:] = np.asarray(integer, bool)
        lp.integrality_ = [highspy.HighsVarType.kInteger if m else highspy.HighsVarType.kContinuous for m in mask]
    return lp


def load(lp: highspy.HighsLp, options: dict | None = None) -> highspy.Highs:
    """A silent solver with ``options`` and the model ``lp`` passed to it."""
    h = new_highs(options)
    h.passModel(lp)
    return h


def has_solution(h: highspy.Highs) -> bool:
    """Whether HiGHS holds a feasible primal point (after a time limit, say)."""
    sol = h.getSolution()
    return bool(getattr(sol, "value_valid", False)) and h.getInfo().primal_solution_status >= 2


def _time_limit_of(h: highspy.Highs) -> float | None:
    """The time limit (seconds) set on ``h``, None when it has none (HiGHS' infinite default)."""
    try:
        res = h.getOptionValue("time_limit")
    except Exception:  # pragma: no cover - highspy without the option getter
        return None
    value = res[1] if isinstance(res, tuple) else res
    try:
        value = float(value)
    except (TypeError, ValueError):  # pragma: no cover - unexpected binding shape
        return None
    return value if np.isfinite(value) and value < 1e20 else None


def run(h: highspy.Highs, what: str, *, accept_feasible: bool = False) -> str:
    """Solve and read the status; returns HiGHS' status text.

    Optimal returns. Infeasible raises :class:`InfeasibleError` naming ``what``. With
    ``accept_feasible`` a stop with a feasible point (time limit, gap) also returns; anything
    else raises :class:`SolverError` naming ``what`` and the status (a stop at the time limit names
    the limit).

    HiGHS keeps one thread scheduler per process, started by the first run; a model asking for
    another ``threads`` count than the scheduler's would stop at once with status "Not Set" (on
    every run), so the scheduler is restarted for it first.
    """
    global _SCHEDULER_THREADS
    threads = h.getOptionValue("threads")
    threads = int(threads[1] if isinstance(threads, tuple) else threads)  # (status, value) in highspy 1.16
    if threads > 0 and threads != _SCHEDULER_THREADS:
        highspy.Highs.resetGlobalScheduler(True)
        _SCHEDULER_THREADS = threads
    h.run()
    st = h.getModelStatus()
    text = h.modelStatusToString(st)
    if st == highspy.HighsModelStatus.kOptimal:
        return text
    if st in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        raise InfeasibleError(f"HiGHS found {what} infeasible; check the demands, capacities and limits that define it")
    if accept_feasible and has_solution(h):
        return text
    if st == highspy.HighsModelStatus.kTimeLimit:
        limit = _time_limit_of(h)
        at = f"its time limit of {limit:g} s" if limit is not None else "its time limit"
        raise SolverError(f"HiGHS stopped on {what} at {at} without an optimal solution; allow more time "
                          "(or none) or solve a smaller problem")
    raise SolverError(f"HiGHS stopped on {what} with status '{text}'; check the demands and capacities "
                      "(values many orders of magnitude apart make the problem hard) or try another solver")


def objective(h: highspy.Highs, what: str = "the model") -> float:
    """The objective value of the last solve; a non-finite value raises :class:`SolverError`."""
    value = float(h.getInfo().objective_function_value)
    if not np.isfinite(value):
        raise SolverError(f"HiGHS returned a non-finite objective ({value}) for {what}; check the demands and "
                          "capacities for values far out of range")
    return value


def primal(h: highspy.Highs, what: str = "the model") -> np.ndarray:
    """The column values of the last solve; NaN or infinite values raise :class:`SolverError`
    (a routing is never built from them)."""
    x = np.asarray(h.getSolution().col_value, dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SolverError(f"HiGHS returned {int(bad.sum())} non-finite value(s) in the solution of {what} "
                          f"(first: {x[i]} in column {i}); check the demands and capacities for values far out "
                          "of range")
    return x


def row_duals(h: highspy.Highs, what: str = "the model") -> np.ndarray:
    """The row duals of the last solve (HiGHS' sign convention: the objective's change per unit
    increase of the active row bound); NaN or infinite values raise :class:`SolverError`.

    >>> h = load_arrays(cost=[1.0, 1.0], lower=[0, 0], upper=[INF, INF], row_lower=[1.0], row_upper=[INF],
    ...                 start=[0, 1, 2], index=[0, 0], value=[1.0, 2.0])
    >>> run(h, "a tiny LP"), row_duals(h).round(6).tolist()
    ('Optimal', [0.5])
    """
    y = np.asarray(h.getSolution().row_dual, dtype=float)
    if not np.isfinite(y).all():
        raise SolverError(f"HiGHS returned non-finite row duals for {what}; check the demands and capacities for "
                          "values far out of range")
    return y


def set_basis(h: highspy.Highs, basis) -> bool:
    """Give ``h`` a starting basis (a ``HighsBasis`` from ``getBasis``); False when HiGHS refuses
    it (wrong size or not a basis), in which case ``h`` solves from its own start."""
    try:
        return h.setBasis(basis) == highspy.HighsStatus.kOk
    except Exception:  # pragma: no cover - a binding that rejects the object itself
        return False


def grow_basis(basis, n_cols_at_lower: int, n_rows_basic: int):
    """``basis`` with ``n_cols_at_lower`` columns appended non-basic at their lower bound and
    ``n_rows_basic`` rows appended basic (their slacks): a valid basis of the model with those
    columns and rows added at the end (the count of basic variables still equals the rows)."""
    out = highspy.HighsBasis()
    out.col_status = list(basis.col_status) + [highspy.HighsBasisStatus.kLower] * int(n_cols_at_lower)
    out.row_status = list(basis.row_status) + [highspy.HighsBasisStatus.kBasic] * int(n_rows_basic)
    out.valid = True
    out.alien = False
    return out


def simplex_iterations(h: highspy.Highs) -> int:
    """Simplex iterations of the last run of ``h``."""
    return int(h.getInfo().simplex_iteration_count)


def load_arrays(*, cost, lower, upper, row_lower, row_upper, start, index, value,
                options: dict | None = None) -> highspy.Highs:
    """A silent solver with ``options`` and the LP (minimise ``cost @ x``; constraint matrix as the
    CSC arrays ``start``/``index``/``value``) passed to it straight from NumPy arrays.

    The same model as ``load(build_lp(...))``, without the element-wise copies that filling a
    ``HighsLp``'s fields costs (tens of ms for 50,000 non-zeros): for LPs rebuilt every interval.

    >>> h = load_arrays(cost=[1.0, 1.0], lower=[0, 0], upper=[INF, INF], row_lower=[1.0], row_upper=[INF],
    ...                 start=[0, 1, 2], index=[0, 0], value=[1.0, 2.0])
    >>> run(h, "a tiny LP"), round(objective(h), 6)
    ('Optimal', 0.5)
    """
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    start = np.ascontiguousarray(start, dtype=np.int32)
    index = np.ascontiguousarray(index, dtype=np.int32)
    n_col, n_row = len(cost), len(row_lower)
    h = new_highs(options)
    status = h.passModel(n_col, n_row, len(index), int(highspy.MatrixFormat.kColwise),
                         int(highspy.ObjSense.kMinimize), 0.0, cost,
                         np.ascontiguousarray(lower, dtype=np.float64), np.ascontiguousarray(upper, dtype=np.float64),
                         np.ascontiguousarray(row_lower, dtype=np.float64),
                         np.ascontiguousarray(row_upper, dtype=np.float64), start, index,
                         np.ascontiguousarray(value, dtype=np.float64), np.zeros(n_col, dtype=np.int32))
    if status != highspy.HighsStatus.kOk:
        raise SolverError(f"HiGHS refused an LP of {n_col} columns, {n_row} rows and {len(index)} non-zeros "
                          "(inconsistent arrays or values out of range)")
    return h
