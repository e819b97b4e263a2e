"""Turning a person's data into a report: gather, analyse, store."""
