"""Request and response documents of OGC API - Processes (Part 1, Core), as pydantic models for the OpenAPI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ConfClasses",
    "ExecuteRequest",
    "JobList",
    "LandingPage",
    "Link",
    "ProblemDoc",
    "ProcessDescription",
    "ProcessList",
    "ProcessSummary",
    "StatusInfo",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Link(_Open):
    """A link (OGC API - Common)."""

    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None


class LandingPage(_Open):
    """The landing page: title, description, links to the API description, conformance, processes, jobs."""

    title: str
    description: str
    links: list[Link]


class ConfClasses(_Open):
    """Conformance classes the server implements."""

    conformsTo: list[str]  # noqa: N815 (OGC member name)


class ProcessSummary(_Open):
    """A process as listed at /processes."""

    id: str
    title: str
    description: str
    version: str
    keywords: list[str] = []
    jobControlOptions: list[Literal["sync-execute", "async-execute", "dismiss"]]  # noqa: N815
    outputTransmission: list[Literal["value", "reference"]]  # noqa: N815
    links: list[Link]


class ProcessList(_Open):
    """Every process, with links."""

    processes: list[ProcessSummary]
    links: list[Link]


class ProcessDescription(ProcessSummary):
    """A process with its inputs and outputs as JSON Schema and a complete example request."""

    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    example: dict[str, Any]


class StatusInfo(_Open):
    """A job's status (OGC statusInfo); ``exception`` tells why a job failed."""

    processID: str  # noqa: N815
    type: Literal["process"]
    jobID: str  # noqa: N815
    status: Literal["accepted", "running", "successful", "failed", "dismissed"]
    message: str
    created: str
    started: str | None = None
    finished: str | None = None
    updated: str
    progress: int = Field(ge=0, le=100)
    links: list[Link]
    exception: dict[str, Any] | None = None


class JobList(_Open):
    """Jobs of the caller's API key, newest first."""

    jobs: list[StatusInfo]
    links: list[Link]
    numberMatched: int  # noqa: N815


class ProblemDoc(_Open):
    """An error (RFC 7807 problem details): ``errors`` lists each field path, message and fix."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str
    errors: list[dict[str, Any]] | None = None


class Output(BaseModel):
    """Which output to return and how (only inline values)."""

    model_config = ConfigDict(extra="forbid")
    format: dict[str, Any] | None = None
    transmissionMode: Literal["value"] = "value"  # noqa: N815


class ExecuteRequest(BaseModel):
    """An execute request: ``inputs`` as the process describes them, optionally the ``outputs`` wanted."""

    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Any] = Field(description="Inputs by id (see the process description and its example).")
    outputs: dict[str, Output] | None = Field(
        default=None, description="Outputs to return, by id; every output when omitted."
    )
    response: Literal["document", "raw"] = Field(
        default="document",
        description="document: every output by id; raw: the single requested output alone.",
    )
