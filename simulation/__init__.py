"""Synthetic but realistic workloads driven through the public HTTP API (``linkage simulate``)."""
