"""The distribution: pyproject's package list matches the folders, and the wheel holds what an install needs.

pyproject.toml lists its packages (no discovery) because two folders install under other names: ``api/``
as ``siting_api`` and ``gis_data/`` as ``siting.demo.data``. A subpackage added under ``siting/`` or
``api/`` but not listed would be missing from every non-editable install, so the list is checked here.
"""

from __future__ import annotations

import configparser
import email.parser
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from testdata import ROOT

PYPROJECT = ROOT / "pyproject.toml"

#: Folders installed under another name (pyproject's [tool.setuptools.package-dir]).
MAPPED = {"siting_api": "api", "siting.demo.data": "gis_data"}

#: What the web stack (the `api` extra) brings; the core must never require it.
WEB_STACK = {"fastapi", "uvicorn", "starlette", "sqlalchemy", "pydantic-settings", "psycopg"}

#: Not copied for the build: the checkout's virtualenv and the output of earlier builds and runs ...
TOP_ARTEFACTS = {".git", ".venv", "build", "dist", "runs", "out"}
#: ... and caches, at any depth.
ARTEFACTS = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache", ".hypothesis")


def _ignore_artefacts(folder: str, names: list[str]) -> set[str]:
    top = TOP_ARTEFACTS & set(names) if Path(folder) == ROOT else set()
    return top | ARTEFACTS(folder, names)


#: Signs in pip's output that the build backend could not be fetched (no registry), not a packaging bug.
NO_REGISTRY = re.compile(
    r"Could not find a version that satisfies the requirement|No matching distribution found"
    r"|NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Network is unreachable|ProxyError|No module named pip",
)


def _setuptools_config() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def _packages_under(folder: Path, name: str) -> set[str]:
    """Return the dotted names of ``folder`` and its subfolders that hold an ``__init__.py``."""
    found = set()
    for init in folder.rglob("__init__.py"):
        rel = init.parent.relative_to(folder)
        found.add(".".join((name, *rel.parts)))
    return found


def test_package_list_matches_the_folders() -> None:
    config = _setuptools_config()
    listed = config["packages"]
    assert len(listed) == len(set(listed)), "pyproject.toml lists a package twice"
    assert config["package-dir"] == MAPPED
    expected = _packages_under(ROOT / "siting", "siting")
    for package, folder in MAPPED.items():
        assert (ROOT / folder / "__init__.py").is_file(), (
            f"{folder}/ installs as {package}: it needs an __init__.py"
        )
        expected |= _packages_under(ROOT / folder, package)
    missing, stale = sorted(expected - set(listed)), sorted(set(listed) - expected)
    assert not missing and not stale, (
        f"[tool.setuptools] packages in pyproject.toml is out of date: add {missing}, remove {stale}"
    )


def _source_modules() -> set[str]:
    """Return the wheel paths of every module of the checkout (mapped folders under their installed names)."""
    roots = {"siting": ROOT / "siting"} | {
        pkg.replace(".", "/"): ROOT / folder for pkg, folder in MAPPED.items()
    }
    return {
        f"{prefix}/{py.relative_to(folder).as_posix()}"
        for prefix, folder in roots.items()
        for py in folder.rglob("*.py")
        if "__pycache__" not in py.parts
    }


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the wheel of the checkout once (pip, isolated build); return it and pip's verbose output.

    The build runs on a copy: pip builds in the source folder, and setuptools puts whatever an earlier build
    left in build/lib (modules deleted since) into the wheel.
    """
    src = tmp_path_factory.mktemp("src") / "siting"
    shutil.copytree(ROOT, src, ignore=_ignore_artefacts)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "-w", str(out), str(src)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=540, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(
            "building the wheel took over 9 minutes (is the package registry reachable for setuptools?)"
        )
    log = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        if NO_REGISTRY.search(log):
            pytest.skip(
                f"cannot build the wheel here (pip could not fetch the build backend setuptools):\n{tail}"
            )
        pytest.fail(f"building the wheel failed ({' '.join(cmd)}):\n{tail}")
    wheels = list(out.glob("siting-*.whl"))
    assert len(wheels) == 1, f"expected one siting wheel in {out}, found {wheels}"
    return wheels[0], log


def _requirement(line: str) -> tuple[str, str]:
    """Split a Requires-Dist value into its normalised distribution name and its marker ('' if none)."""
    spec, _, marker = line.partition(";")
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert name, line
    return re.sub(r"[-_.]+", "-", name.group(1)).lower(), marker.strip()


# One test, not several: each test of a module can run on another xdist worker, each building its own wheel.
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_contents(wheel_build: tuple[Path, str]) -> None:
    wheel, log = wheel_build
    assert "is absent from the `packages` configuration" not in log, "setuptools warned about a data folder"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.read_string(zf.read(f"{dist_info}/entry_points.txt").decode())

    # the demo data (gis_data/ as siting.demo.data), the report assets and the API's static map
    for path in (
        "siting/demo/data/jiangbei.gpkg",
        "siting/demo/data/nanjing_central.gpkg",
        "siting/demo/data/raw/osm_central_nanjing_2018.osm",
        "siting/reports/assets/leaflet/leaflet.js",
        "siting/reports/assets/leaflet/images/marker-icon.png",
        "siting/reports/assets/leaflet.heat/leaflet-heat.js",
        "siting/reports/assets/report.js",
        "siting/py.typed",
        "siting_api/static/map.html",
        "siting_api/app.py",
        "siting_api/processes/__init__.py",
        "siting_api/routes/__init__.py",
    ):
        assert path in names, f"{path} is missing from {wheel.name}"
    modules = {n for n in names if n.endswith(".py")}
    assert modules == _source_modules(), (
        f"modules missing from the wheel: {sorted(_source_modules() - modules)}; "
        f"in the wheel but not in the checkout: {sorted(modules - _source_modules())}"
    )
    # only siting and siting_api install: no top-level `api` or `gis_data`
    assert not [n for n in names if n.startswith(("api/", "gis_data/"))]
    assert {n.split("/")[0] for n in names} == {"siting", "siting_api", dist_info}

    assert metadata["License-Expression"] == "MIT"
    requires = [_requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    assert ("fastapi", 'extra == "api"') in {(n, m) for n, m in requires}
    unconditional = {n for n, m in requires if not m}
    assert not unconditional & WEB_STACK, f"the core requires the web stack: {unconditional & WEB_STACK}"

    assert entry_points.has_section("siting.commands")
    commands = dict(entry_points["siting.commands"])
    assert {"serve", "api-key"} <= set(commands)
    assert all(v.strip().startswith("siting_api.") for k, v in commands.items() if k in ("serve", "api-key"))
    assert entry_points["console_scripts"]["siting"].strip() == "siting.cli.main:app"
