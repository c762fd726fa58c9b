"""Statistics of a unit's subtree over a period (DESIGN.md "Statistics"), read from the read model.

``figures`` and ``trend`` are the arithmetic (no I/O); the rest count in SQL and assemble what
``GET /stats`` answers: ``scope`` (which issues), ``periods`` (months from the tallies, the rest
from the rows), ``tallies`` (issues and level stays counted), ``daily`` (events per local day),
``report`` (every figure of a scope), ``alerts`` (the warned and overdue lists) and ``routes``
(the thin router). ``linkage stats`` prints ``report.build_stats`` as the API answers it.
"""
