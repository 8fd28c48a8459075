"""The command palette's adw commands (`ctrl+p`): launch for an issue, jump to a run,
open a screen, replay a dead letter, switch theme.

What they name (issues, runs, letters) is read once each time the palette opens, so
typing searches a snapshot instead of querying the store per keystroke.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from adw_tui.domain.errors import AdwError
from adw_tui.domain.issues import IssueState
from adw_tui.domain.models import DeadLetterFilter, DeadLetterStatus
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.tui.replay import replay_letter

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from adw_tui.tui.app import AdwApp


PALETTE_ISSUES = 1000
"""The newest open issues "Launch a workflow for issue" offers."""
ISSUES_WAIT_S = 5.0
"""How long the palette waits for the tracker's issues before it opens without them."""
PALETTE_RUNS = 1000
"""The most recently updated runs "Jump to run" offers (older ones: `adw show ID`)."""
PALETTE_LETTERS = 1000
"""The newest pending dead letters "Replay dead letter" offers (all of them: the dead
letters screen, or `adw dlq replay`)."""


@dataclass(frozen=True)
class PaletteCommand:
    text: str
    run: Callable[[], object]
    help: str
    discoverable: bool = False
    """Shown before anything is typed (the screens and the launch dialog)."""


class AdwCommands(Provider):
    """Commands about this repository's issues, runs and dead letters."""

    _commands: list[PaletteCommand] = []  # noqa: RUF012 - replaced per palette in startup

    @property
    def adw(self) -> "AdwApp":
        from adw_tui.tui.app import AdwApp

        return cast(AdwApp, self.app)

    async def startup(self) -> None:
        self._commands = await self._gather()

    async def _gather(self) -> list[PaletteCommand]:
        app = self.adw
        store = app.store
        commands = [
            PaletteCommand("Launch a run", app.action_launch, "open the launch dialog", True),
            # Through run_action, so a screen already open is not opened over itself.
            PaletteCommand(
                "Open the dead letters",
                partial(app.run_action, "dead_letters"),
                "failed runs: replay or drop them",
                True,
            ),
            PaletteCommand(
                "Open the workflows",
                partial(app.run_action, "workflows"),
                "every workflow as a graph",
                True,
            ),
            PaletteCommand(
                "Open the fleet",
                partial(app.run_action, "fleet"),
                "the workers on the database and the runs waiting for one",
                True,
            ),
        ]
        commands += await _issue_commands(app)
        for run in await store.list_runs(limit=PALETTE_RUNS):
            issue_part = f"#{run.issue} " if run.issue else ""
            commands.append(
                PaletteCommand(
                    terminal_safe(
                        f"Jump to run {run.adw_id}: {issue_part}{run.workflow} ({run.status})"
                    ),
                    partial(app.open_run_detail, run.adw_id),
                    "its timeline, transcripts and diff",
                )
            )
        pending = DeadLetterFilter(status=DeadLetterStatus.PENDING)
        async for letter, _ in store.dead_letters.newest(pending, limit=PALETTE_LETTERS):
            commands.append(
                PaletteCommand(
                    terminal_safe(
                        f"Replay dead letter {letter.id}: {letter.adw_id} "
                        f"{letter.error_class} at {letter.step or 'start'}"
                    ),
                    partial(replay_letter, app, app.orchestrator, letter.id),
                    terminal_safe(letter.error_message[:120]),
                )
            )
        for name in sorted(app.available_themes):
            commands.append(
                PaletteCommand(
                    f"Switch theme: {name}",
                    partial(app.switch_theme, name),
                    "kept for the next start",
                    discoverable=name.startswith("adw-"),
                )
            )
        return commands

    async def discover(self) -> Hits:
        for command in self._commands:
            if command.discoverable:
                yield DiscoveryHit(command.text, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands:
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(score, matcher.highlight(command.text), command.run, help=command.help)


async def _issue_commands(app: "AdwApp") -> list[PaletteCommand]:
    """A launch command per open issue of the tracker; none when the tracker cannot
    answer in time (GitHub down or rate-limited): the palette's other commands still
    come, and the reason is logged."""
    found: list[PaletteCommand] = []
    try:
        async with asyncio.timeout(ISSUES_WAIT_S):
            async for issue in app.orchestrator.tracker.issues(
                state=IssueState.OPEN, limit=PALETTE_ISSUES
            ):
                found.append(
                    PaletteCommand(
                        f"Launch a workflow for issue #{issue.number}: "
                        f"{terminal_safe(issue.title)}",
                        partial(app.open_launch, issue.number),
                        "choose the workflow, model set and engine",
                    )
                )
    except (AdwError, TimeoutError) as error:
        logger.warning("the palette lists no issues: %s", error or "the tracker took too long")
    return found
