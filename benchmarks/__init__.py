"""Benchmarks: siting against its peers (spopt, networkx, pandana), side by side in one process."""
