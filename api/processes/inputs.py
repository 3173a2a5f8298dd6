"""Process inputs taken from the scenario schema: JSON Schemas, scenario building and error paths.

Every process input that sets a scenario key is described by that key's JSON Schema, taken from
:class:`siting.scenarios.schema.Scenario`, and validated by :func:`siting.scenarios.schema.parse_scenario`: files
and requests share one schema and one validator.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from siting.errors import Problem, ScenarioError
from siting.scenarios.schema import Scenario, parse_scenario

from ..errors import ApiError, invalid_input
from ..openapi import deref

__all__ = ["InputSpec", "ScenarioInputs", "deref", "scenario_schema"]


@cache
def _scenario_schema() -> dict[str, Any]:
    return deref(Scenario.model_json_schema())


def scenario_schema(path: str) -> dict[str, Any]:
    """JSON Schema of a scenario key given as a dotted path (``model``, ``model.radius_m``, ``outputs.crs``)."""
    node: dict[str, Any] = _scenario_schema()
    for part in path.split("."):
        props = node.get("properties")
        if props is None:  # an optional sub-model: anyOf [model, null]
            props = next(o["properties"] for o in node.get("anyOf", []) if "properties" in o)
        node = props[part]
    return copy.deepcopy(node)


@dataclass(frozen=True)
class InputSpec:
    """One process input.

    Attributes
    ----------
    title, description : str
        For the process description.
    target : str or None
        Scenario key it sets (dotted path); None for inputs the process reads itself.
    schema : mapping or None
        JSON Schema; the target's schema from the scenario when None.
    required : bool
        Whether the input must be given.
    """

    title: str
    description: str
    target: str | None = None
    schema: Mapping[str, Any] | None = None
    required: bool = False

    def describe(self, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the OGC input description (title, description, schema, minOccurs, maxOccurs).

        ``schema`` replaces the input's own (the study area lists the server-held areas).
        """
        if schema is None:
            schema = self.schema if self.schema is not None else scenario_schema(str(self.target))
        return {
            "title": self.title,
            "description": self.description,
            "schema": dict(schema),
            "minOccurs": 1 if self.required else 0,
            "maxOccurs": 1,
        }


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


@dataclass(frozen=True)
class ScenarioInputs:
    """How a process turns its inputs into a validated :class:`~siting.scenarios.schema.Scenario`.

    Attributes
    ----------
    inputs : mapping of str to InputSpec
        The process inputs.
    fixed : mapping of str to Any
        Scenario keys the process sets itself (dotted paths, e.g. ``facility_type``).
    """

    inputs: Mapping[str, InputSpec]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def unknown(self, given: Mapping[str, Any]) -> list[Problem]:
        """Problems for inputs the process does not know, and required inputs that are missing."""
        problems = [
            Problem(name, "unknown input", f"use one of {', '.join(self.inputs)}")
            for name in given
            if name not in self.inputs
        ]
        problems += [
            Problem(name, "missing", "add it (see the process description)")
            for name, spec in self.inputs.items()
            if spec.required and name not in given
        ]
        return problems

    def path(self, where: str) -> str:
        """Field path of a scenario problem in the request: ``model.radius_m`` -> ``inputs.model.radius_m``."""
        best = ""
        name = ""
        for input_name, spec in self.inputs.items():
            t = spec.target
            if t and (where == t or where.startswith(t + ".")) and len(t) > len(best):
                best, name = t, input_name
        if not best:
            return "inputs" if where == "scenario" else f"inputs.{where}"
        return f"inputs.{name}{where[len(best) :]}"

    def scenario(self, given: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Scenario:
        """Build and validate the scenario (422 listing every problem with its request path).

        Parameters
        ----------
        given : mapping
            The request's ``inputs`` (names the process does not know are left out; see :meth:`unknown`).
        overrides : mapping, optional
            Scenario keys (dotted) computed by the process, set last (e.g. ``model.p``).
        """
        tree: dict[str, Any] = {}
        for key, value in self.fixed.items():
            _set(tree, key, copy.deepcopy(value))
        for name, value in given.items():
            target = self.inputs[name].target if name in self.inputs else None
            if target is not None:
                _set(tree, target, copy.deepcopy(value))
        for key, value in (overrides or {}).items():
            _set(tree, key, value)
        try:
            return parse_scenario(tree, source="request")
        except ScenarioError as exc:
            raise invalid_input(exc.problems, self.path, title="invalid inputs") from None


def require_mapping(body: Any, where: str) -> Mapping[str, Any]:
    """Return the value as a mapping, or 422 naming ``where``."""
    if not isinstance(body, Mapping):
        raise ApiError(
            422,
            "invalid-input",
            f"{where} must be a JSON object",
            errors=[{"path": where, "message": "must be an object", "fix": 'send {"inputs": {...}}'}],
        )
    return body
