"""A :class:`Routing`: how each OD pair's demand splits over its candidate paths."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..paths import PathSet

__all__ = ["Routing"]


@dataclass(frozen=True, eq=False)
class Routing:
    """Split ratios over the paths of a :class:`PathSet`.

    Parameters
    ----------
    paths : the candidate paths.
    splits : (n_paths,) fraction of its OD's demand each path carries; >= 0, summing to 1 per OD.
    policy : name of the policy that chose it.
    info : solver facts (status, objective, solve_seconds, gap, ...).
    """

    paths: PathSet
    splits: np.ndarray
    policy: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        s = np.asarray(self.splits, dtype=float)
        if s.shape != (self.paths.n_paths,):
            raise ValidationError(f"routing has {s.shape} splits for {self.paths.n_paths} paths")
        if not np.isfinite(s).all() or (s < -1e-9).any():
            raise ValidationError("routing splits must be finite and >= 0")
        s = np.clip(s, 0.0, None)
        sums = self.paths.od_sum(s)
        bad = np.abs(sums - 1.0) > 1e-6
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"routing splits of OD {self.paths.node_names[self.paths.od_src[k]]}->"
                f"{self.paths.node_names[self.paths.od_dst[k]]} sum to {sums[k]:.6g}, not 1")
        object.__setattr__(self, "splits", s / np.repeat(sums, self.paths.paths_per_od))

    @classmethod
    def first_path(cls, paths: PathSet, policy: str = "first-path") -> "Routing":
        """All demand on each OD's first (cheapest) path."""
        s = np.zeros(paths.n_paths)
        s[paths.od_ptr[:-1]] = 1.0
        return cls(paths, s, policy)

    @classmethod
    def uniform(cls, paths: PathSet, policy: str = "uniform") -> "Routing":
        """Equal split over each OD's paths."""
        return cls(paths, 1.0 / np.repeat(paths.paths_per_od, paths.paths_per_od), policy)

    def path_flows(self, tm: np.ndarray) -> np.ndarray:
        """(n_paths,) bit/s on each path for the N x N matrix ``tm``."""
        d = self.paths.demand(tm)
        return self.splits * d[self.paths.path_od]

    def link_loads(self, tm: np.ndarray) -> np.ndarray:
        """(n_links,) bit/s on each link."""
        return self.paths.incidence @ self.path_flows(tm)

    def to_frame(self):
        """Long frame: src, dst, path (node names joined by '-'), cost, split."""

        ps = self.paths
        nz = np.flatnonzero(self.splits > 0)
        return pd.DataFrame({
            "src": [ps.node_names[ps.od_src[ps.path_od[p]]] for p in nz],
            "dst": [ps.node_names[ps.od_dst[ps.path_od[p]]] for p in nz],
            "path": ["-".join(ps.path_nodes(p)) for p in nz],
            "cost": ps.cost[nz],
            "split": self.splits[nz],
        })
