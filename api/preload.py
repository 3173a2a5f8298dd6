"""Imported by the forkserver: loads siting and the server-held study areas once for every job process."""

from __future__ import annotations

from .worker import preload_from_env

preload_from_env()
