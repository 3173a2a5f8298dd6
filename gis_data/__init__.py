"""The embedded demo data, installed as the package ``siting.demo.data``.

The demo GeoPackages and the OSM file that ``nanjing_central.gpkg`` names as its street network
ship as package data, so ``demo:jiangbei`` and ``demo:nanjing_central`` resolve in any install.
The other files in ``raw/`` are only the inputs of ``make data`` (see README.md for provenance).
"""
