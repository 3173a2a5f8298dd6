"""Typed errors raised by the siting core (mapped to HTTP codes only in ``api/``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "InfeasibleError",
    "InputError",
    "Problem",
    "ScenarioError",
    "SitingError",
    "SolverError",
    "StudyAreaError",
    "raise_if_problems",
]


@dataclass(frozen=True)
class Problem:
    """One validation problem.

    Parameters
    ----------
    where : str
        What is wrong, as a path: a layer and column (``"demand.population"``),
        a scenario key (``"model.radius"``) or a function argument (``"radius"``).
    message : str
        What is wrong, in words a planner understands.
    fix : str
        How to fix it.
    rows : tuple of str
        Ids of the offending rows, if any (at most the first few are shown).
    """

    where: str
    message: str
    fix: str = ""
    rows: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        if self.rows:
            shown = ", ".join(self.rows[:10])
            more = f" and {len(self.rows) - 10} more" if len(self.rows) > 10 else ""
            text += f" (rows {shown}{more})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class SitingError(Exception):
    """Base class of every error the siting core raises on purpose."""


class InputError(SitingError, ValueError):
    """Bad input: collects every problem found, so one message lists them all."""

    def __init__(self, problems: Sequence[Problem] | Problem | str, *, title: str = "invalid input") -> None:
        if isinstance(problems, str):
            problems = [Problem(where="input", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.title = title
        super().__init__(self.format())

    def format(self) -> str:
        """Return the message: a title line and one line per problem."""
        n = len(self.problems)
        head = f"{self.title}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class StudyAreaError(InputError):
    """A study area (its layers, columns, geometries or CRS) is invalid."""

    def __init__(
        self, problems: Sequence[Problem] | Problem | str, *, title: str = "invalid study area"
    ) -> None:
        super().__init__(problems, title=title)


class ScenarioError(InputError):
    """A scenario file or request is invalid."""

    def __init__(
        self, problems: Sequence[Problem] | Problem | str, *, title: str = "invalid scenario"
    ) -> None:
        super().__init__(problems, title=title)


class InfeasibleError(SitingError):
    """A model has no feasible solution; ``reason`` says which rule or demand blocks it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"infeasible: {reason}")


class SolverError(SitingError):
    """The solver failed (not infeasibility: a crash, a bad status, a missing solver)."""


def raise_if_problems(
    problems: Iterable[Problem], *, error: type[InputError] = InputError, title: str | None = None
) -> None:
    """Raise ``error`` listing every problem, if there are any.

    Parameters
    ----------
    problems : iterable of Problem
        Problems collected by a validator.
    error : type
        The ``InputError`` subclass to raise.
    title : str, optional
        First line of the message; the error class's default when omitted.
    """
    found = list(problems)
    if found:
        if title is None:
            raise error(found)
        raise error(found, title=title)
