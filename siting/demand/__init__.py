"""Demand: points from polygons, buildings, rasters or tables; growth projections; residents' reports."""
