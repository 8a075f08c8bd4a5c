"""Cooperative games (in progress)."""
