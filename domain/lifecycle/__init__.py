"""The issue's lifecycle as pure functions over ``IssueState``: rules, checks, transitions, clocks.

Imported by the workflow (inside the sandbox) and by the API; no I/O, no clock of its own: every
function takes the instant it acts at.
"""
