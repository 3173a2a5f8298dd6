"""Straight-line distances between point sets within a cutoff, scaled by a circuity factor (KD-tree)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["straight_line_pairs"]


def straight_line_pairs(
    demand_xy: np.ndarray, candidate_xy: np.ndarray, cutoff: float, *, circuity: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs with ``circuity * straight-line distance <= cutoff``, via a KD-tree.

    Parameters
    ----------
    demand_xy, candidate_xy : ndarray, shape (n, 2) and (m, 2)
        Projected coordinates (metres).
    cutoff : float
        Maximum (circuity-scaled) distance in metres.
    circuity : float
        Network distance / straight-line distance ratio assumed (>= 1).

    Returns
    -------
    rows, cols, dist : ndarray
        As :func:`network_pairs`.
    """
    if demand_xy.shape[0] == 0 or candidate_xy.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    found = cKDTree(demand_xy).sparse_distance_matrix(
        cKDTree(candidate_xy), max_distance=cutoff / circuity, output_type="ndarray"
    )
    dist = found["v"] * circuity
    keep = dist <= cutoff
    return found["i"][keep].astype(np.int64), found["j"][keep].astype(np.int64), dist[keep]
