"""The ``substrate`` command line (see :mod:`substrate.cli`)."""
