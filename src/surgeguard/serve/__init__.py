"""Serving surgeguard: the command line (``cli``, joining one Typer app per ``cmd_<group>`` module,
inputs read through ``loaders``) and the Morocco demo (``demo``); later the REST API and dashboard.

Nothing in the library imports this package.
"""
