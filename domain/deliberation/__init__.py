"""Deliberation (协商议事) as pure functions over ``DeliberationState``: rules, checks, transitions,
clocks — the same core shape as ``domain.lifecycle`` has for issues.

Imported by the workflow (inside the sandbox) and by the API; no I/O, no clock of its own: every
function takes the instant it acts at.
"""
