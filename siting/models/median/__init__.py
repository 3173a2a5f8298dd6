"""Median and center models over a cost matrix (demand x candidates): p-median, p-center, capacitated p-median."""
