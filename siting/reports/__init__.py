"""Offline reports of runs, comparisons and sweeps: HTML pages, Leaflet maps, static figures, a local server."""
