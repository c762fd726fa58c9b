"""The phone pages at ``/m/`` (citizens' and field workers'), and the field workers' patrol log."""
