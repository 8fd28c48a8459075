"""`ADW_NOTIFY_COMMAND`: a command of the operator's, run once per event that may want a
person (a run succeeded, failed, became a dead letter, or waits on an open breaker),
with the event as one JSON line on its stdin: for `notify-send`, a Slack webhook, ntfy.

The command is the operator's own setting, so it runs through the shell with the
operator's environment (less GitHub's token and the webhook secret); what it is given is
adw's event (ids, statuses, adw's messages, redacted) on stdin, never run as code. One
command at a time, each within a time limit; a command that fails or hangs is logged
and stopped, and never holds a run.
"""

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adw_tui.agents.process import kill_process_tree
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import RunChanged, RuntimeEvent, RunWaiting, WaitKind

logger = logging.getLogger(__name__)

WITHHELD = frozenset({"GITHUB_PAT", "GH_TOKEN", "ADW_WEBHOOK_SECRET"})
NOTIFY_TIMEOUT_S = 10.0
KILL_GRACE_S = 1.0
_TOLD = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD_LETTERED, RunStatus.PAUSED}
"""The statuses a person hears of: the endings, and a pause (the run waits for them)."""


def operator_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The operator's environment (a desktop notifier needs DISPLAY, DBUS_*; a webhook
    its URL), less the secrets adw holds for GitHub."""
    return {name: value for name, value in environ.items() if name not in WITHHELD}


def notice_for(event: RuntimeEvent) -> dict[str, Any] | None:
    """The JSON object of an event a person may want to hear of; None for the rest."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    if isinstance(event, RunChanged) and event.status in _TOLD:
        return {
            "event": f"run.{event.status}",
            "adw_id": event.adw_id,
            "detail": event.detail,
            "at": at,
        }
    if isinstance(event, RunWaiting) and event.kind is WaitKind.BREAKER:
        return {
            "event": "run.waiting",
            "adw_id": event.adw_id,
            "detail": f"{event.step}: {event.reason}",
            "wait_s": event.wait_s,
            "at": at,
        }
    return None


class CommandNotifier:
    """An event bus listener: each notice starts a run of the command in the background;
    `drain` waits (a while) for those still running, so that a run's last notice is
    sent before adw exits."""

    def __init__(self, command: str) -> None:
        self._command = command
        self._sending: set[asyncio.Task[bool]] = set()
        self._one_at_a_time = asyncio.Lock()
        self._told_waiting: set[tuple[str, str]] = set()

    def __call__(self, event: RuntimeEvent) -> None:
        notice = notice_for(event)
        if notice is None:
            return
        if isinstance(event, RunWaiting):  # once per step, not at every cool-down
            key = (event.adw_id, event.step)
            if key in self._told_waiting:
                return
            self._told_waiting.add(key)
        task = asyncio.create_task(self._send(notice))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, notice: dict[str, Any]) -> bool:
        async with self._one_at_a_time:
            return await run_notify_command(self._command, notice)

    async def drain(self) -> None:
        """Wait for the notices still queued or running, each within its time limit."""
        while self._sending:
            await asyncio.wait(set(self._sending))


async def run_notify_command(command: str, notice: dict[str, Any]) -> bool:
    """One run of the command with `notice` on stdin; whether it exited 0 in time."""
    line = (json.dumps(notice, ensure_ascii=True) + "\n").encode()
    try:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            env=operator_environment(os.environ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        logger.warning("ADW_NOTIFY_COMMAND cannot start: %s", error)
        return False
    try:
        async with asyncio.timeout(NOTIFY_TIMEOUT_S):
            _, stderr = await process.communicate(line)
    except TimeoutError:
        logger.warning(
            "ADW_NOTIFY_COMMAND took over %gs for %s: stopped", NOTIFY_TIMEOUT_S, notice["event"]
        )
        return False
    finally:
        if process.returncode is None:  # timed out, or adw is closing
            await asyncio.shield(kill_process_tree(process, grace_s=KILL_GRACE_S))
    if process.returncode != 0:
        said = stderr.decode("utf-8", errors="replace").strip()[-300:]
        logger.warning(
            "ADW_NOTIFY_COMMAND exited %s for %s: %s", process.returncode, notice["event"], said
        )
        return False
    return True
