"""Walking networks and the matrices the models take: one facade over the network package.

Usage::

    from siting import network
    g = network.load_network("gis_data/raw/osm_central_nanjing_2018.osm")
    cov = network.coverage_matrix(g, demand_gdf, candidates_gdf, radius=500)
    cost = network.cost_matrix(g, demand_gdf, candidates_gdf, cutoff=1000)

``g`` is a :class:`~siting.network.graph.WalkNetwork`; ``g=None`` means straight-line distance.
"""

from __future__ import annotations

from siting.network.fire_lanes import FireLaneCheck, fire_lane_check
from siting.network.graph import DEFAULT_WALKING_SPEED_KMH, IslandReport, WalkNetwork
from siting.network.lines import NON_WALKABLE_HIGHWAYS, network_from_lines, walkable_mask
from siting.network.matrices import (
    AccessInfo,
    DenseCost,
    SiteMatrix,
    cost_matrix,
    coverage_matrix,
    full_cost_matrix,
)
from siting.network.osm import load_network
from siting.network.service_areas import service_areas
from siting.network.snapping import SnapResult, snap_points

__all__ = [
    "DEFAULT_WALKING_SPEED_KMH",
    "NON_WALKABLE_HIGHWAYS",
    "AccessInfo",
    "DenseCost",
    "FireLaneCheck",
    "IslandReport",
    "SiteMatrix",
    "SnapResult",
    "WalkNetwork",
    "cost_matrix",
    "coverage_matrix",
    "fire_lane_check",
    "full_cost_matrix",
    "load_network",
    "network_from_lines",
    "service_areas",
    "snap_points",
    "walkable_mask",
]
