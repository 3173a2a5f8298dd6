"""Writing a run's output folder atomically: result.gpkg, sites.geojson, summary.json (and the report)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from siting.errors import InputError, Problem
from siting.geo.crs import to_output_crs
from siting.scenarios.runner import RunResult

__all__ = ["BASEMAP_LAYERS", "atomic_folder", "read_run", "write_run"]

#: Study-area layers copied into result.gpkg as ``basemap_<name>`` so a report can be redrawn offline.
BASEMAP_LAYERS = ("boundary", "compounds", "exclusions", "fire_lanes", "roads", "streets")


@contextmanager
def atomic_folder(out_dir: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir`` whole.

    On any error the temporary folder is removed and ``out_dir`` is left as it was, so a
    failed run never leaves a partial output folder.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private (0700); a run folder is as readable as any folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _clean(value: Any) -> Any:
    """Replace NaN / inf by None so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _writable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object and col != "geometry":
            out[col] = out[col].map(
                lambda v: v if v is None or isinstance(v, str | int | float | bool) else str(v)
            )
    return out


def write_run(result: RunResult, out_dir: str | Path, *, report: Callable[[Path], Any] | None = None) -> Path:
    """Write a run's output folder (atomically; see :func:`atomic_folder`).

    Files: ``result.gpkg`` (layers ``sites``, ``assignments``, ``grids``, ``service_areas``,
    tables ``curve`` and ``phases``, and ``basemap_*`` study-area layers, in the metric CRS),
    ``sites.geojson`` (RFC 7946: WGS84 lon/lat, or CGCS2000 / GCJ-02 when the scenario asks,
    named in a ``crs_name`` member), ``summary.json``; then ``report(folder)`` when given and the
    scenario's ``outputs.report`` is true (see :func:`siting.reports.run.write_report`).
    """
    out = Path(out_dir)
    with atomic_folder(out) as tmp:
        gpkg = tmp / "result.gpkg"
        layers: dict[str, gpd.GeoDataFrame] = {
            "sites": result.sites,
            "assignments": result.demand,
            "grids": result.grids,
            "service_areas": result.service_areas,
        }
        for name in BASEMAP_LAYERS:
            if result.area.has(name):
                layers[f"basemap_{name}"] = result.area.layers[name]
        for name, frame in layers.items():
            if len(frame):
                pyogrio.write_dataframe(_writable(frame), gpkg, layer=name, driver="GPKG")
        for name, table in (("curve", result.curve), ("phases", result.phases)):
            if len(table):
                pyogrio.write_dataframe(_writable(table), gpkg, layer=name, driver="GPKG")
        _write_geojson(result, tmp / "sites.geojson")
        summary = _clean(json.loads(json.dumps(dict(result.summary), default=_json_default)))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        if report is not None and result.scenario.outputs.report:
            report(tmp)
    return out


def _write_geojson(result: RunResult, path: Path) -> None:
    crs = result.scenario.outputs.crs
    sites = to_output_crs(_writable(result.sites), crs)
    sites = sites.assign(geometry=sites.geometry.set_precision(1e-7))
    doc = json.loads(sites.to_json(na="null", show_bbox=True, drop_id=True))
    doc.pop("crs", None)  # RFC 7946 has no crs member; lon/lat WGS84 is implied
    doc["name"] = result.scenario.name
    doc["crs_name"] = crs
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def read_run(out_dir: str | Path) -> dict[str, Any]:
    """Read an output folder back: ``summary`` and every layer / table of result.gpkg by name."""
    folder = Path(out_dir)
    summary_path, gpkg = folder / "summary.json", folder / "result.gpkg"
    missing = [p.name for p in (summary_path, gpkg) if not p.exists()]
    if missing:
        raise InputError(
            Problem(
                str(folder),
                f"is not a run folder (missing {', '.join(missing)})",
                "give a folder written by siting run",
            )
        )
    data: dict[str, Any] = {"summary": json.loads(summary_path.read_text(encoding="utf-8"))}
    for name, geom in pyogrio.list_layers(gpkg):
        data[str(name)] = (
            pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False)
            if geom is None
            else gpd.read_file(gpkg, layer=name)
        )
    return data
