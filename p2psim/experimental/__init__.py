"""Staging area: features here may change or disappear in any release; nothing is promised."""
