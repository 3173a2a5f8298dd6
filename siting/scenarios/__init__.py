"""Scenarios: the schema shared with the API, running one, sweeps, comparisons, run folders, Dask."""
