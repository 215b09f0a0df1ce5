"""The command line: one module per verb group."""

from alignops.cli.app import app, main

__all__ = ["app", "main"]
