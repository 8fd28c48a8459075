"""Structured logs: one event a line, to `agents/adw.log` (JSON, rotated) and stderr.

structlog renders every line, adw's own (`structlog.stdlib.get_logger`) and those of the
standard library's loggers (adw's older modules, aiohttp, httpx), through one chain:
the run's context (`adw_id`, `step`, ... bound with `structlog.contextvars`), the level,
the logger, a UTC timestamp, and the secrets of the environment redacted from every
value. The file always gets JSON, for `adw logs` and for machines; stderr gets JSON for
the long-running commands (`adw webhook`, `adw poll`, `adw serve`) and plain lines for
the others, unless `ADW_LOG_FORMAT` says which.

Several processes append to the same file (the dashboard, `adw run`, a trigger): each
write holds a lock on `adw.log.lock`, reopens the file when another process rotated it,
and rotates it when it has grown past `ADW_LOG_MAX_BYTES`.
"""

import logging
import os
import sys
from collections.abc import MutableMapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Literal

import structlog
from structlog.typing import Processor

from adw_tui.config import process_redactor
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.observability.file_lock import FileLock
from adw_tui.runtime.run_log import RUN_CONTEXT

LOG_FILE = "adw.log"
LogFormat = Literal["json", "console"]
Audience = Literal["daemon", "interactive", "screen"]
"""Who reads the process's stderr: a log collector (a long-running command), a person
watching live progress (errors only), or nobody (the dashboard owns the screen)."""


def configure_logging(
    log_dir: Path | None,
    audience: Audience,
    *,
    level: str = "INFO",
    stderr_format: LogFormat | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """Send every log line of this process through structlog's chain, to
    `log_dir/adw.log` (when a directory is given; created on the first line) and, unless
    the dashboard owns the screen, to stderr."""
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        to_file = SharedRotatingFileHandler(log_dir / LOG_FILE, max_bytes, backups)
        to_file.setFormatter(_formatter(shared, "json"))
        handlers.append(to_file)
    if audience != "screen":
        to_stderr = logging.StreamHandler(sys.stderr)
        chosen = stderr_format or ("json" if audience == "daemon" else "console")
        to_stderr.setFormatter(_formatter(shared, chosen))
        # A person watching live progress sees the run's troubles there already.
        to_stderr.setLevel(level if audience == "daemon" else max(logging.ERROR, _number(level)))
        handlers.append(to_stderr)
    if not handlers:
        # The dashboard owns the screen and there is no file: logging's last-resort
        # handler would print warnings over it.
        handlers.append(logging.NullHandler())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _number(level: str) -> int:
    return logging.getLevelNamesMapping()[level]


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        add_run_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="at"),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.ExtraAdder(),  # a standard library line's fields (`extra=`)
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


def _formatter(shared: list[Processor], form: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if form == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shaped: list[Processor] = [leading_keys] if form == "json" else [terminal_safe_values]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *shaped, renderer],
    )


LEADING = ("at", "level", "event", "adw_id")


def leading_keys(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """When, how bad, what and which run first: a JSON line reads from the left."""
    return {
        **{key: event[key] for key in LEADING if key in event},
        **{key: value for key, value in event.items() if key not in LEADING},
    }


def add_run_context(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The run the line was written for (`adw_tui.runtime.run_log.RUN_CONTEXT`), unless
    the line names one itself."""
    for key, value in RUN_CONTEXT.get().items():
        event.setdefault(key, value)
    return event


def redact_secrets(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Every value with the environment's secret values and token shapes replaced."""
    redactor = process_redactor()
    for key, value in event.items():
        event[key] = redactor.value(value)
    return event


def terminal_safe_values(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Text as a terminal may show it: no control sequence from an issue or an agent
    reaches the operator's terminal through a log line (JSON escapes them itself)."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = terminal_safe(value)
    return event


class SharedRotatingFileHandler(RotatingFileHandler):
    """A rotating file that several processes append to (see the module docstring)."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, delay=True)
        self._lock = FileLock(path.with_name(path.name + ".lock"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._lock.held():
                self._reopen_if_rotated()
                super().emit(record)
        except OSError:
            self.handleError(record)

    def close(self) -> None:
        super().close()
        self._lock.close()

    def _reopen_if_rotated(self) -> None:
        """Another process renamed the file away (rotated it): write to the new one."""
        if self.stream is None:
            return
        try:
            current = os.stat(self.baseFilename).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(self.stream.fileno()).st_ino:
            self.stream.close()
            self.stream = self._open()
