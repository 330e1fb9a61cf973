"""The maintenance endpoint's tooling: one console command (``cli.py``, its subcommands in
``commands/``) and the library by concern (``core``, ``template``, ``aws``, ``endpoint``,
``check``, ``proxies``, ``switch``). Installed, this package is called
``maintenance_endpoint``; in a checkout it is ``scripts``."""

# The one place the version is set: pyproject.toml reads it ([tool.setuptools.dynamic]).
__version__ = "0.2.0"
