"""The embedded default's demo: three people, five weeks, one command."""
