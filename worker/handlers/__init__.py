"""Job handlers by kind: the glue between the queue and the rooms that do the work."""

from __future__ import annotations

import importlib

from worker.ai import create_provider
from worker.config import AISettings, StorageSettings
from worker.export.storage import create_storage
from worker.handlers.deletion import make_delete_user_files_handler
from worker.handlers.export import make_export_handler
from worker.handlers.maintenance import handle_noop
from worker.handlers.share import make_share_notification_handler
from worker.handlers.share_pdf import make_delete_share_pdf_handler, make_share_pdf_handler
from worker.handlers.weekly import make_story_handler, make_weekly_handler
from worker.queue.registry import Registry
from worker.queue.retry import RetryPolicy
from worker.share.mail import MailSettings, create_mailer


def default_registry(
    ai_settings: AISettings | None = None,
    storage_settings: StorageSettings | None = None,
    mail_settings: MailSettings | None = None,
) -> Registry:
    """Every kind this worker knows how to run."""
    registry = Registry()
    registry.register("noop", handle_noop, timeout_seconds=60)
    provider = create_provider(ai_settings or AISettings())
    registry.on_close(provider.aclose)
    registry.register(
        "weekly_analysis",
        make_weekly_handler(provider),
        retry=RetryPolicy(max_attempts=5, base_seconds=30, cap_seconds=3600),
        timeout_seconds=900,
        checks_answers=True,
    )
    registry.register(
        "weekly_story",
        make_story_handler(provider),
        retry=RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=600),
        timeout_seconds=600,
        checks_answers=True,
    )
    storage = create_storage(storage_settings or StorageSettings())
    registry.on_close(storage.aclose)
    registry.register(
        "export_pdf",
        make_export_handler(storage),
        retry=RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=600),
        # Room for a database outage of five and a half minutes (JobContext.outlast_outage)
        # on top of the render; under the ten minutes a deleted person's files wait.
        timeout_seconds=540,
    )
    registry.register(
        "delete_user_files",
        make_delete_user_files_handler(storage),
        retry=RetryPolicy(max_attempts=10, base_seconds=10, cap_seconds=600),
        timeout_seconds=480,
    )
    mail = mail_settings or MailSettings()
    registry.register(
        "share_notification",
        make_share_notification_handler(create_mailer(mail), sender=mail.sender),
        retry=RetryPolicy(max_attempts=8, base_seconds=30, cap_seconds=1800),
        timeout_seconds=480,
    )
    registry.register(
        "share_pdf",
        make_share_pdf_handler(storage),
        retry=RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=600),
        timeout_seconds=540,  # as export_pdf: the same render and upload
    )
    registry.register(
        "delete_share_pdf",
        make_delete_share_pdf_handler(storage),
        retry=RetryPolicy(max_attempts=10, base_seconds=10, cap_seconds=600),
        timeout_seconds=480,
    )
    return registry


def load_plugin(registry: Registry, module_name: str) -> None:
    """Import ``module_name`` and let its ``register(registry)`` add handlers."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import handler plugin {module_name!r}: {exc}") from None
    register = getattr(module, "register", None)
    if not callable(register):
        raise ValueError(f"handler plugin {module_name!r} has no register(registry) function")
    register(registry)
