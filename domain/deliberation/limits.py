"""Caps that keep one deliberation's live state bounded (it travels in every query and in
continue-as-new; Temporal refuses a payload over 2 MB)."""

from __future__ import annotations

MAX_ROUNDS_KEPT = 40  # rounds across every unit (max_rounds per unit × the ladder, with room)
MAX_OPINIONS = 1_000  # opinions live in the read model's events, the state only counts them
MAX_BALLOTS = 10_000  # households of one poll (a village has hundreds)
MAX_OPTIONS = 20
MAX_EVALUATIONS = 200
REQUEST_MEMORY = 256
