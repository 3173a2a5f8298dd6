"""What a process is: its description (OGC), how a request is checked, and how a worker runs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ApiError
from ..studyareas import ServerAreas

__all__ = ["Context", "Limits", "OutputSpec", "Process", "Reporter", "build", "check_pairs", "check_time"]


class Reporter(Protocol):
    """Progress callback of a running job: a percentage (0-100) and a short message."""

    def __call__(self, percent: int, message: str) -> None:
        """Record progress."""


@dataclass(frozen=True)
class Limits:
    """Request limits from the settings."""

    max_features: int = 50_000
    max_pairs: int = 25_000_000
    max_time_s: float = 900.0


@dataclass(frozen=True)
class Context:
    """What checking or running a request needs: the server-held areas, the limits, the outputs asked for."""

    areas: ServerAreas
    limits: Limits = field(default_factory=Limits)
    outputs: frozenset[str] | None = None

    def wants(self, output: str) -> bool:
        """Whether the request asked for this output (every output when it named none)."""
        return self.outputs is None or output in self.outputs


def build(ctx: Context, makers: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Compute only the outputs the request asked for."""
    return {name: make() for name, make in makers.items() if ctx.wants(name)}


@dataclass(frozen=True)
class OutputSpec:
    """One process output: title, description and JSON Schema."""

    title: str
    description: str
    schema: Mapping[str, Any]

    def describe(self) -> dict[str, Any]:
        """Return the OGC output description."""
        return {"title": self.title, "description": self.description, "schema": dict(self.schema)}


Check = Callable[[Mapping[str, Any], Context], Any]
Run = Callable[[Mapping[str, Any], Context, Reporter], dict[str, Any]]


@dataclass(frozen=True)
class Process:
    """A process of the API.

    Attributes
    ----------
    id, title, description : str
        As listed at ``/processes``.
    inputs : callable
        ``inputs(ctx)`` returns the OGC input descriptions (they name the server-held areas).
    outputs : mapping of str to OutputSpec
        The outputs, by id.
    example : mapping
        A complete execute body (``{"inputs": ...}``) that runs on a preloaded demo.
    check : callable
        ``check(inputs, ctx)``: validate a request in the API process; raises ApiError.
    run : callable
        ``run(inputs, ctx, report)``: compute the outputs in a worker process.
    keywords : tuple of str
        Keywords of the description.
    """

    id: str
    title: str
    description: str
    inputs: Callable[[Context], dict[str, Any]]
    outputs: Mapping[str, OutputSpec]
    example: Mapping[str, Any]
    check: Check
    run: Run
    keywords: tuple[str, ...] = ()
    version: str = "1.0.0"


def check_pairs(n_demand: int, n_sites: int, ctx: Context, what: str = "candidate sites") -> None:
    """Refuse requests with more demand x site pairs than the limit (422 naming both counts)."""
    pairs = n_demand * n_sites
    if pairs > ctx.limits.max_pairs:
        raise ApiError(
            422,
            "too-many-pairs",
            f"{n_demand:,} demand points x {n_sites:,} {what} = {pairs:,} pairs; the limit is {ctx.limits.max_pairs:,}",
            errors=[
                {
                    "path": "inputs.study_area",
                    "message": f"{pairs:,} demand x site pairs exceed {ctx.limits.max_pairs:,}",
                    "fix": "use fewer candidates or a smaller area, or aggregate demand points",
                }
            ],
        )


def check_time(seconds: float, ctx: Context) -> None:
    """Refuse a solver time limit beyond the job time limit."""
    if seconds > ctx.limits.max_time_s:
        raise ApiError(
            422,
            "invalid-input",
            f"model.time_limit_s {seconds:g} exceeds the job time limit of {ctx.limits.max_time_s:g} s",
            errors=[
                {
                    "path": "inputs.model.time_limit_s",
                    "message": f"must be at most {ctx.limits.max_time_s:g} s (the job time limit)",
                    "fix": "lower it",
                }
            ],
        )
