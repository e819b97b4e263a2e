"""What the guard reports about a refused text: its kind and the rule that caught it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["diagnosis", "alarm", "medication"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a refused text does, by kind and by the rule that caught it; never its words."""

    kind: Kind
    rule: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.rule})"
