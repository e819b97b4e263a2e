"""Talking to models: one protocol (:class:`worker.ai.base.AIProvider`), two providers."""

from __future__ import annotations

from worker.ai.base import AIProvider
from worker.ai.local import LocalProvider
from worker.config import AISettings


def create_provider(settings: AISettings) -> AIProvider:
    """``deepseek`` when configured with a key, else the offline ``local`` provider."""
    if settings.provider == "deepseek":
        from worker.ai.deepseek import DeepSeekProvider  # noqa: PLC0415 - needs httpx set up

        return DeepSeekProvider(settings)
    return LocalProvider()
