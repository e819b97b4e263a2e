"""Argument checks shared by the bench scripts (each imports this from its own folder)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def count_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``, or a one-line error."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text[:20]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    check.__name__ = f"count from {low} to {high}"  # argparse names the type in its errors
    return check
