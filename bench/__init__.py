"""Benchmarks of the Linkage stack, each beside a baseline measured in the same run.

``python -m bench.run --quick`` (``make bench``) or ``--full``; see ``bench/run.py``. Every
benchmark starts what it needs (Temporal dev server, worker, API) on free ports under a temporary
directory and stops it again; the figures land in ``bench/results.json`` and ``bench/results.md``.

- ``intake``: ``POST /api/v1/issues`` against raw ``client.start_workflow`` of the same workflow.
- ``lag``: deadline → recorded escalation with N issues open, a burst of N deadlines at one
  instant, and a scheduled SQL poller (``poller``) on the same scenario as the usual design's peer.
- ``reads``: ``GET /issues/{id}``, ``/stats`` and a filtered list over many closed issues, on
  SQLite and PostgreSQL.
- ``footprint``: worker and server memory per open issue.
"""
