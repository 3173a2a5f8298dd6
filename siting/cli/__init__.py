"""The ``siting`` command line (typer + rich): parse, call, present."""
