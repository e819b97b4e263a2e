"""Proxima Intelligence: the worker that turns a person's week into a health report."""

__version__ = "0.1.0"
