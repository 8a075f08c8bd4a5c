"""Loaders for data shipped inside PyPI packages (SimBench grids and profiles)."""
