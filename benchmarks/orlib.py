"""Readers for the OR-Library p-median and capacitated p-median benchmark files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import shortest_path

from siting.errors import InputError, Problem

__all__ = [
    "CapacitatedInstance",
    "PMedianInstance",
    "read_optima",
    "read_pmed",
    "read_pmedcap",
]


@dataclass(frozen=True)
class PMedianInstance:
    """An OR-Library uncapacitated p-median instance (Beasley 1985).

    Attributes
    ----------
    name : str
        File stem, e.g. ``"pmed1"``.
    cost : ndarray of float, shape (n, n)
        All-pairs shortest-path distances; every vertex is demand and candidate.
    p : int
        Number of medians.
    """

    name: str
    cost: NDArray[np.float64]
    p: int


@dataclass(frozen=True)
class CapacitatedInstance:
    """An OR-Library capacitated p-median instance (Osman & Christofides 1994).

    Attributes
    ----------
    name : str
        File stem, e.g. ``"pmedcap01"``.
    cost : ndarray of float, shape (n, n)
        ``floor`` of the Euclidean distance between the points.
    demand : ndarray of float, shape (n,)
        Demand of each point.
    capacity : float
        Capacity of every median.
    p : int
        Number of medians.
    optimum : float
        Optimal objective stated on the file's first line.
    """

    name: str
    cost: NDArray[np.float64]
    demand: NDArray[np.float64]
    capacity: float
    p: int
    optimum: float


def _numbers(path: Path) -> list[list[float]]:
    if not path.is_file():
        raise InputError(Problem("path", f"{path} is not a file", "pass an OR-Library instance file"))
    return [[float(t) for t in line.split()] for line in path.read_text().splitlines() if line.strip()]


def read_pmed(path: str | Path) -> PMedianInstance:
    """Read an OR-Library ``pmedN.txt`` file into a shortest-path cost matrix.

    First line ``n m p``, then ``m`` lines ``i j cost`` (1-based, undirected).
    As OR-Library states, edges are read in turn setting ``c(i,j) = c(j,i) = cost``
    so a repeated edge's last cost wins; then all-pairs shortest paths
    (``scipy.sparse.csgraph.shortest_path``, Dijkstra).

    Parameters
    ----------
    path : str or Path
        The instance file.

    Returns
    -------
    PMedianInstance
    """
    path = Path(path)
    rows = _numbers(path)
    n, m, p = (int(v) for v in rows[0][:3])
    edges = np.asarray(rows[1 : 1 + m], dtype=float)
    if edges.shape != (m, 3):
        raise InputError(Problem("path", f"{path.name}: expected {m} edge lines of 'i j cost'"))
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    # last write wins for repeated edges (either orientation)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    _, last = np.unique(key[::-1], return_index=True)
    keep = np.sort(m - 1 - last)
    lo, hi, c = lo[keep], hi[keep], edges[keep, 2]
    off = lo != hi
    graph = sp.coo_matrix((c[off], (lo[off], hi[off])), shape=(n, n)).tocsr()
    dist = shortest_path(graph, method="D", directed=False)
    return PMedianInstance(name=path.stem, cost=dist, p=p)


def read_pmedcap(path: str | Path) -> CapacitatedInstance:
    """Read an OR-Library ``pmedcapNN.txt`` file.

    Line 1 ``problem_no optimum``; line 2 ``n p capacity``; then ``n`` lines
    ``id x y demand``. Distances are ``floor`` of the Euclidean distance.

    Parameters
    ----------
    path : str or Path
        The instance file.

    Returns
    -------
    CapacitatedInstance
    """
    path = Path(path)
    rows = _numbers(path)
    optimum = rows[0][1]
    n, p, capacity = int(rows[1][0]), int(rows[1][1]), rows[1][2]
    pts = np.asarray(rows[2 : 2 + n], dtype=float)
    if pts.shape != (n, 4):
        raise InputError(Problem("path", f"{path.name}: expected {n} lines of 'id x y demand'"))
    xy = pts[:, 1:3]
    cost = np.floor(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)))
    return CapacitatedInstance(
        name=path.stem, cost=cost, demand=pts[:, 3].copy(), capacity=capacity, p=p, optimum=optimum
    )


def read_optima(path: str | Path) -> dict[str, float]:
    """Read a table of ``name value`` lines (``pmedopt.txt``, ``pcenter_opt.txt``).

    Lines whose second field is not a number (a header) are skipped.
    """
    out: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            out[parts[0]] = float(parts[-1])
        except ValueError:
            continue
    return out
