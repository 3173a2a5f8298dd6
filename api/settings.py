"""Validated settings of the API service, read from ``SITING_*`` environment variables."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .store import default_database_url

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every knob of the service; ``create_app(settings=Settings(...))`` overrides them in tests.

    Environment variables carry the ``SITING_`` prefix: ``SITING_DATABASE_URL``,
    ``SITING_CORS_ORIGINS`` (comma-separated or a JSON list), ``SITING_MAX_BODY_BYTES``,
    ``SITING_RATE_LIMIT_PER_MINUTE``, ``SITING_MAX_PAIRS``, ``SITING_JOB_TIMEOUT_S``,
    ``SITING_WORKERS`` ...
    """

    model_config = SettingsConfigDict(env_prefix="SITING_", extra="ignore", frozen=True)

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL of the job store; a SQLite file siting.db in the working folder by default.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (the platform's)."
    )
    max_body_bytes: int = Field(
        default=20_000_000, ge=1_000, description="Largest request body (413 beyond)."
    )
    max_features_per_layer: int = Field(
        default=50_000, ge=1, description="Most features in one inline study-area layer or site list."
    )
    max_pairs: int = Field(
        default=25_000_000, ge=1, description="Most demand x candidate pairs of one request."
    )
    job_timeout_s: float = Field(default=900.0, gt=0, description="A job still running after this fails.")
    sync_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a synchronous request waits before answering as async (201).",
    )
    workers: int = Field(default=2, ge=1, le=64, description="Jobs running at once (one process each).")
    rate_limit_per_minute: int = Field(
        default=300, ge=1, description="Requests per API key per minute on execution and job endpoints."
    )
    preload: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("demo:jiangbei", "demo:nanjing_central"),
        description="Server-held study areas loaded at start-up.",
    )
    preload_networks: bool = Field(
        default=True, description="Also load the street networks of preloaded areas in the workers."
    )
    reports_dir: str | None = Field(
        default=None, description="A folder of run reports (e.g. runs/) served read-only at /reports/."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    title: str = "siting API: grid red stations and e-bike charging piles"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [v.strip() for v in text.split(",") if v.strip()]
        return value

    @field_validator("preload", mode="before")
    @classmethod
    def _split_preload(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value
