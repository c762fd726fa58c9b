"""What the ``linkage`` command prints in a terminal (rich), kept out of the API's package."""
