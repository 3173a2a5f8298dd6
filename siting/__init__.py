"""siting: facility siting for grid red stations and e-bike charging piles."""

from __future__ import annotations

from siting.errors import (
    InfeasibleError,
    InputError,
    Problem,
    ScenarioError,
    SitingError,
    SolverError,
    StudyAreaError,
)

__version__ = "0.1.0"

__all__ = [
    "InfeasibleError",
    "InputError",
    "Problem",
    "ScenarioError",
    "SitingError",
    "SolverError",
    "StudyAreaError",
    "__version__",
]
