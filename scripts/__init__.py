"""The maintenance endpoint's tooling: one console command (``cli.py``), one module per
subcommand beside it, and the library they share in ``lib/``. Installed, this package is
called ``maintenance_endpoint``; in a checkout it is ``scripts``."""
