"""Solvers the models share: HiGHS, MIP formulations, Lagrangian bounds, greedy and interchange, fixing."""
