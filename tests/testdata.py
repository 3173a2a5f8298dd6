"""Where the tests find the repository and their data (imported as ``testdata``; tests/ is on the path)."""

from __future__ import annotations

from pathlib import Path

#: The repository root.
ROOT = Path(__file__).resolve().parent.parent
#: tests/data: fixtures, benchmark instances, Nanjing boundaries.
DATA = ROOT / "tests" / "data"
#: The benchmark instances with known optima (OR-Library, spopt's San Francisco data).
BENCHMARKS = DATA / "benchmarks"
#: Broken and good study-area folders.
STUDY_AREAS = DATA / "study_areas"
#: The real 2018 OSM export of central Nanjing (the demo's street network).
OSM_CENTRAL = ROOT / "gis_data" / "raw" / "osm_central_nanjing_2018.osm"
