"""Serving surgeguard: the command line (``cli``); later the REST API and dashboard.

Nothing in the library imports this package.
"""
