"""Nearest street edge for many points: straight segments bucketed in a uniform grid, searched ring by ring (numba)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numba import njit

__all__ = ["SegmentIndex"]


@dataclass(frozen=True, eq=False)
class SegmentIndex:
    """The straight pieces of every edge, in grid cells, for exact nearest-edge queries.

    Parameters
    ----------
    ax, ay, bx, by : ndarray, shape (s,)
        Segment end coordinates (metres, the network's CRS).
    edge : ndarray, shape (s,), int64
        Edge of each segment.
    along : ndarray, shape (s,)
        Metres along the edge from its start to the segment's start.
    origin : ndarray, shape (2,)
        Lower-left corner of the grid.
    cell : float
        Cell side (metres).
    shape : tuple of int
        Cells in x and y.
    cell_ptr, cell_segments : ndarray, int64
        Segments overlapping each cell (CSR layout, cells numbered ``iy * nx + ix``).
    """

    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    edge: np.ndarray
    along: np.ndarray
    origin: np.ndarray
    cell: float
    shape: tuple[int, int]
    cell_ptr: np.ndarray
    cell_segments: np.ndarray

    @classmethod
    def build(cls, geometries: np.ndarray) -> SegmentIndex:
        """Index the segments of ``geometries`` (LineStrings, metres), about 2 segments per cell."""
        coords, idx = shapely.get_coordinates(geometries, return_index=True)
        same = idx[1:] == idx[:-1]
        a, b, edge = coords[:-1][same], coords[1:][same], idx[:-1][same].astype(np.int64)
        seg_len = np.hypot(*(b - a).T)
        along = _starts_along(edge, seg_len)
        lo = np.minimum(a, b).min(axis=0) if edge.size else np.zeros(2)
        hi = np.maximum(a, b).max(axis=0) if edge.size else np.ones(2)
        span = np.maximum(hi - lo, 1.0)
        cell = float(
            max(np.sqrt(span.prod() / max(edge.size, 1) * 2.0), np.median(seg_len) if edge.size else 1.0, 1.0)
        )
        nx, ny = (np.floor(span / cell).astype(np.int64) + 1).tolist()
        c0 = np.floor((np.minimum(a, b) - lo) / cell).astype(np.int64)
        c1 = np.floor((np.maximum(a, b) - lo) / cell).astype(np.int64)
        wide, tall = c1[:, 0] - c0[:, 0] + 1, c1[:, 1] - c0[:, 1] + 1
        n = wide * tall
        seg = np.repeat(np.arange(edge.size), n)
        k = np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)
        cx, cy = c0[seg, 0] + k % wide[seg], c0[seg, 1] + k // wide[seg]
        key = cy * nx + cx
        order = np.argsort(key, kind="stable")
        return cls(
            ax=a[:, 0].copy(), ay=a[:, 1].copy(), bx=b[:, 0].copy(), by=b[:, 1].copy(), edge=edge,
            along=along, origin=lo.astype(np.float64), cell=cell, shape=(int(nx), int(ny)),
            cell_ptr=np.r_[0, np.cumsum(np.bincount(key, minlength=nx * ny))].astype(np.int64),
            cell_segments=seg[order].astype(np.int64),
        )  # fmt: skip

    def nearest(self, xy: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge of each point within ``max_distance`` metres (inclusive).

        Parameters
        ----------
        xy : ndarray, shape (n, 2)
            Points in the network's CRS (metres).
        max_distance : float
            Search radius (metres).

        Returns
        -------
        edge : ndarray, shape (n,), int64
            Nearest edge, ``-1`` when none is within ``max_distance``; ties go to the lower edge.
        distance : ndarray, shape (n,)
            Metres to it (NaN when none).
        along : ndarray, shape (n,)
            Metres along the edge from its start to the nearest point on it (NaN when none).
        """
        xy = np.ascontiguousarray(xy, dtype=np.float64).reshape(-1, 2)
        return _nearest(
            xy[:, 0].copy(), xy[:, 1].copy(), float(max_distance), self.ax, self.ay, self.bx, self.by,
            self.edge, self.along, float(self.origin[0]), float(self.origin[1]), self.cell,
            self.shape[0], self.shape[1], self.cell_ptr, self.cell_segments,
        )  # fmt: skip


@njit(cache=True, nogil=True)
def _starts_along(edge: np.ndarray, seg_len: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Metres from each edge's start to each of its segments' starts (segments in edge order)."""
    out = np.empty(seg_len.shape[0])
    run = 0.0
    for s in range(seg_len.shape[0]):
        if s == 0 or edge[s] != edge[s - 1]:
            run = 0.0
        out[s] = run
        run += seg_len[s]
    return out


@njit(cache=True, nogil=True)
def _scan_cell(  # noqa: PLR0917
    x: float,
    y: float,
    segments: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    seg_edge: np.ndarray,
    seg_along: np.ndarray,
    best_d2: float,
    best_e: int,
    best_t: float,
) -> tuple[float, int, float]:  # pragma: no cover
    """Keep the nearest of ``segments`` to ``(x, y)`` if nearer than the best so far (ties: lower edge)."""
    for s in segments:
        dx, dy = bx[s] - ax[s], by[s] - ay[s]
        ll = dx * dx + dy * dy
        t = 0.0 if ll == 0.0 else ((x - ax[s]) * dx + (y - ay[s]) * dy) / ll
        t = min(max(t, 0.0), 1.0)
        ex, ey = ax[s] + t * dx - x, ay[s] + t * dy - y
        d2 = ex * ex + ey * ey
        e = seg_edge[s]
        if d2 < best_d2 or (d2 == best_d2 and e < best_e):
            best_d2, best_e, best_t = d2, e, seg_along[s] + t * np.sqrt(ll)
    return best_d2, best_e, best_t


@njit(cache=True, nogil=True)
def _nearest(  # noqa: PLR0917
    px: np.ndarray,
    py: np.ndarray,
    max_distance: float,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    seg_edge: np.ndarray,
    seg_along: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    cell_ptr: np.ndarray,
    cell_segments: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    n = px.shape[0]
    out_e = np.full(n, -1, np.int64)
    out_d = np.full(n, np.nan)
    out_t = np.full(n, np.nan)
    max_ring = int(max_distance / cell) + 2
    for i in range(n):
        x, y = px[i], py[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        cx = int(np.floor((x - x0) / cell))
        cy = int(np.floor((y - y0) / cell))
        best_d2, best_e, best_t = np.inf, -1, 0.0
        for r in range(max_ring + 1):
            # every point of a cell at ring r + 1 is at least r cells away from this point
            for iy in range(cy - r, cy + r + 1):
                if iy < 0 or iy >= ny:
                    continue
                step = 1 if iy == cy - r or iy == cy + r else 2 * r
                for ix in range(cx - r, cx + r + 1, max(step, 1)):
                    if ix < 0 or ix >= nx:
                        continue
                    c = iy * nx + ix
                    best_d2, best_e, best_t = _scan_cell(
                        x, y, cell_segments[cell_ptr[c] : cell_ptr[c + 1]], ax, ay, bx, by, seg_edge, seg_along,
                        best_d2, best_e, best_t,
                    )  # fmt: skip
            reach = r * cell
            if best_d2 <= reach * reach or reach > max_distance:
                break
        if best_e >= 0 and np.sqrt(best_d2) <= max_distance:
            out_e[i] = best_e
            out_d[i] = np.sqrt(best_d2)
            out_t[i] = best_t
    return out_e, out_d, out_t
