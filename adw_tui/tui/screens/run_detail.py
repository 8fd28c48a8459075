"""One run in detail: its step timeline, any step's saved transcript, and its worktree's
diff against the base branch; cancel, retry and copy the worktree path from here.

It reads the store's read API and acts through the Orchestrator. A run this process
executes is read again on each of its runtime events (the app's `runtime_events`
signal); any other run (queued, ended, or executed by another `adw`, on any host) is
read again when the store's change notices name it (`Store.changes`: every write to a
run, its steps' included, moves its row), so it updates as fast as a local one. Every
`REFRESH_S` the running step's time moves on, without a read; every `FALLBACK_S` the
run's row is checked (by key) in case a notice was missed.
A step's transcript is its agent's `raw_output.jsonl`, shown by `TranscriptFile`, which
reads only the lines on screen however big the file is. A step whose agent ran on another
host (the run is owned there, or its file is not on this host) shows the chunks its
worker shipped to the database, copied into a local file (`StoredTranscripts`) and
followed as the store's notices say more came.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import Unmount
from textual.theme import Theme
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.errors import AdwError, StoreError
from adw_tui.domain.fleet import owned_elsewhere
from adw_tui.domain.models import RunRecord, RunState, RunStatus
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.domain.steps import StepStatus, StepSummary
from adw_tui.domain.web_urls import pull_request_url
from adw_tui.runtime.events import RunChanged, RuntimeEvent, StepFinished, StepStarted
from adw_tui.runtime.inspection import WorktreeDiff
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.changes import Change, ChangeKind
from adw_tui.tui.formatting import (
    RUN_STATUS_STYLES,
    STEP_STATUS_STYLES,
    format_elapsed,
    format_tokens,
    plain_title,
    theme_text,
)
from adw_tui.tui.notify import notify_text
from adw_tui.tui.screens.base import AdwScreen, says_store_errors
from adw_tui.tui.stored_transcripts import StoredTranscripts
from adw_tui.tui.widgets.agent_pane import TranscriptLog
from adw_tui.tui.widgets.confirm import Confirmation, ConfirmScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable
from adw_tui.tui.widgets.transcript_file import TranscriptFile

REFRESH_S = 1.0
"""How often the running step's time moves on (no read)."""
FALLBACK_S = 10.0
"""How often a run not executed here has its row checked, notices or not."""
# The diff view keeps this many lines; a bigger diff says where to read the rest.
DIFF_MAX_LINES = 20_000

# Short labels, so the table fits in 80 columns; F1 says what each column holds.
COLUMNS = ("step", "visit", "status", "tries", "time", "cost", "tokens", "session")
SESSION_SHOWN = 8
TRANSCRIPT_TAB = "transcript-tab"
DIFF_TAB = "diff-tab"


def step_key(summary: StepSummary) -> str:
    return f"{summary.step}#{summary.visit}"


def diff_line_text(line: str, variables: Mapping[str, str]) -> Text:
    """A line of a unified diff (made terminal-safe), coloured as `git diff` colours it, in
    the theme's colours (`variables`: `App.theme_variables`)."""
    line = terminal_safe(line)
    if line.startswith(("diff --git", "index ", "+++ ", "--- ", "new file", "deleted file")):
        return Text(line, "bold")
    if line.startswith("@@"):
        return theme_text(line, "$primary", variables)
    if line.startswith("+"):
        return theme_text(line, "$success", variables)
    if line.startswith("-"):
        return theme_text(line, "$error", variables)
    return Text(line)


class StepTimeline(RowTable[str | Text]):
    """The run's steps, one row per visit, in the order they ran."""

    HELP = """
## Steps

One row per visit of a step: its status, attempts (`tries`), duration
(`time`; so far, while it runs), cost, tokens in/out and the start of the
agent's session id (the whole id is on the transcript's border). Click a
step, or move to it with `↑` `↓`, to show its transcript below.
"""


class DiffView(TranscriptLog):
    """The run's worktree diff, coloured."""

    HELP = """
## Diff

What the run changed in its worktree since its branch forked from the base
branch: its commits and what is not committed yet, new files included.
`r` reads it again.
"""


@dataclass
class _Shown:
    """What the transcript view shows, to leave it alone when nothing changed."""

    key: str
    path: Path | None
    running: bool
    stored: int | None = None
    """The attempt whose chunks in the database are shown (copied to `path`)."""


class RunDetailScreen(AdwScreen):
    """A run's timeline, transcripts and diff, and what can be done about it."""

    HELP = """
# Run detail

One run: its steps, the transcript of the selected step and the run's
worktree diff. It updates while the run goes on.

- click a step (or `↑` `↓`): show its transcript
- `[` `]`: a step tried more than once: the transcript of an earlier or later try
- `D` (shift+d): switch between the transcript and the diff (or click the tabs)
- `c`: cancel the run (it asks first); its agent is killed
- `t`: retry: replay a dead letter, or resume a cancelled or interrupted run
- `p`: pause the run (its step stops, its slot is freed), or resume a paused one
- `y`: copy the worktree's path
- `a`: attach to the agent's last session; `s`: a shell in the worktree;
  `P` (shift+p): push the branch; `o`: open the pull request, else the branch
- `r`: read everything again; `escape`: back
"""

    AUTO_FOCUS = "#steps"
    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("escape", "back", "Back", id="run_detail.back"),
        Binding("D", "toggle_diff", "Diff", id="run_detail.diff"),
        Binding("[", "attempt(-1)", "Earlier try", id="run_detail.earlier_attempt"),
        Binding("]", "attempt(1)", "Later try", id="run_detail.later_attempt"),
        Binding("c", "cancel_run", "Cancel run", id="run_detail.cancel"),
        Binding("t", "retry", "Retry", id="run_detail.retry"),
        Binding("y", "copy_path", "Copy path", id="run_detail.copy_path"),
        Binding("r", "reload", "Reload", id="run_detail.reload"),
    ]

    def __init__(
        self,
        store: Store,
        orchestrator: Orchestrator,
        adw_id: str,
        *,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(id="run-detail")
        self.adw_id = adw_id
        self._store = store
        self._orchestrator = orchestrator
        self._clock = clock
        self._run: RunRecord | None = None
        self._state: RunState | None = None
        self._steps: dict[str, StepSummary] = {}
        self._shown: _Shown | None = None
        self._chosen_attempt: tuple[str, int] | None = None
        """(visit key, attempt index) picked with `[` `]`; else a visit shows its last."""
        self._stored = StoredTranscripts(store)
        """Transcripts of steps that ran on another host, copied from the database."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="run-summary", classes="bar")
        yield StepTimeline(((column, column) for column in COLUMNS), id="steps", classes="framed")
        with TabbedContent(id="run-tabs"):
            with TabPane("Transcript", id=TRANSCRIPT_TAB):
                yield TranscriptFile(id="transcript")
            with TabPane("Diff", id=DIFF_TAB):
                yield DiffView(max_lines=DIFF_MAX_LINES + 1, wrap=False, id="diff")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.query_one(StepTimeline).border_title = f"steps of {self.adw_id}"
        self.query_one(DiffView).border_title = "diff"
        self.follow(self.runtime_events, self._runtime_event, immediate=True)
        self.follow(self.app.theme_changed_signal, self._restyle)
        await self.reload()
        self.follow_changes(self._store, self._changed)
        self.set_interval(REFRESH_S, self._tick, name="run-detail-refresh")
        self.set_interval(FALLBACK_S, self._check, name="run-detail-fallback")

    @property
    def selected_run(self) -> str:
        return self.adw_id

    # Reading the store

    @says_store_errors
    async def reload(self) -> None:
        """Read the run, its state and its timeline again and show what changed."""
        try:
            loaded = await self._store.load(self.adw_id)
        except StoreError:
            raise  # (said by `says_store_errors`; what is shown stays)
        except AdwError as error:
            self.query_one("#run-summary", Static).update(Content.styled(str(error), "bold $error"))
            return
        self._run, self._state = loaded.run, loaded.state
        await self._show_summary(loaded.run, loaded.state)
        self._show_timeline(await self._store.steps.timeline(self.adw_id))

    def _runtime_event(self, event: RuntimeEvent) -> None:
        """This run's step and status changes are read at once (the transcript follows
        its file by itself). Subscribed `immediate`, so that the agent lines of every
        run, which are not this screen's business, cost no message each."""
        if isinstance(event, RunChanged | StepStarted | StepFinished) and (
            event.adw_id == self.adw_id
        ):
            self.call_next(self.reload)

    @property
    def _executed_here(self) -> bool:
        """The run is executed by this process: its runtime events tell what changes."""
        run = self._run
        return run is not None and not run.status.is_final and run.owner == self._orchestrator.owner

    async def _changed(self, batch: list[Change]) -> None:
        """The store's notices: this run's row moved (by any process, on any host), or
        notices may have been missed (RESYNC): read it again. A transcript shown from the
        database gets the chunks its notices announce (first: a step's last chunk is
        written before the step ends)."""
        if self._executed_here:
            return
        if any(c.kind is ChangeKind.TRANSCRIPT and c.adw_id == self.adw_id for c in batch):
            await self._pull_shown()
        if any(
            change.kind is ChangeKind.RESYNC
            or (change.kind is ChangeKind.RUN and change.adw_id == self.adw_id)
            for change in batch
        ):
            await self.reload()

    def _tick(self) -> None:
        """Every `REFRESH_S`: the running step's time moves on."""
        if self._steps:
            self._show_timeline(list(self._steps.values()))

    @says_store_errors
    async def _check(self) -> None:
        """Every `FALLBACK_S`, for a run not executed here: read again when its row says
        it changed (a notice missed)."""
        if self._executed_here:
            return
        if self._shown is not None and self._shown.running:
            await self._pull_shown()
        run = self._run
        try:
            now = await self._store.get_run(self.adw_id)
        except StoreError:
            raise
        except AdwError:
            now = None
        if run is None or now is None or _marker(now) != _marker(run):
            await self.reload()

    async def _show_summary(self, run: RunRecord, state: RunState) -> None:
        parts: list[Content | tuple[str, str] | str] = [
            ("run ", "dim"),
            (run.adw_id, "bold"),
            ("  issue ", "dim"),
            f"#{terminal_safe(run.issue)}" if run.issue else "-",
            ("  workflow ", "dim"),
            terminal_safe(run.workflow),
            ("  status ", "dim"),
            (str(run.status), RUN_STATUS_STYLES[run.status]),
            ("  cost ", "dim"),
            f"${run.cost_usd:.4f}",
            ("\nbranch ", "dim"),
            terminal_safe(state.branch_name or "none yet"),
            ("  worktree ", "dim"),
            terminal_safe(state.worktree_path or "none yet"),
        ]
        if run.pr_number is not None:
            url = pull_request_url(state)
            parts += [("  pull request ", "dim"), (f"#{run.pr_number}", "bold")]
            if url is not None:
                parts += [" ", terminal_safe(url), (" (o opens it)", "dim")]
        if run.status is RunStatus.DEAD_LETTERED:
            letter = await self._store.dead_letters.pending_for(run.adw_id)
            if letter is not None:
                parts.append(
                    (
                        terminal_safe(
                            f"\ndead letter {letter.id}: {letter.error_class} at {letter.step}: "
                            f"{letter.error_message} (t replays it)"
                        ),
                        RUN_STATUS_STYLES[RunStatus.DEAD_LETTERED],
                    )
                )
        self.query_one("#run-summary", Static).update(Content.assemble(*parts))

    def _show_timeline(self, timeline: list[StepSummary]) -> None:
        table = self.query_one(StepTimeline)
        at_last_row = table.row_count == 0 or table.cursor_row == table.row_count - 1
        self._steps = {step_key(summary): summary for summary in timeline}
        for summary in timeline:
            key = step_key(summary)
            cells = self._cells(summary)
            if key in table.rows:
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, column, value, update_width=True)
            else:
                table.add_row(*cells, key=key)
        if not timeline:
            self.query_one(TranscriptFile).show(None, placeholder="no step has started yet")
            return
        if at_last_row and table.cursor_row != table.row_count - 1:
            # Following the run: the newest step is selected as it starts.
            table.move_cursor(row=table.row_count - 1, animate=False)
        self._show_step(table.cursor_key)

    def _cells(self, summary: StepSummary) -> tuple[str | Text, ...]:
        if summary.status is StepStatus.RUNNING and summary.started_at is not None:
            duration = self._clock() - summary.started_at
        else:
            duration = timedelta(milliseconds=summary.duration_ms)
        return (
            Text(terminal_safe(summary.step)),
            str(summary.visit),
            theme_text(
                str(summary.status), STEP_STATUS_STYLES[summary.status], self.app.theme_variables
            ),
            str(summary.attempts),
            format_elapsed(duration),
            f"${summary.cost_usd:.4f}",
            f"{format_tokens(summary.input_tokens)}/{format_tokens(summary.output_tokens)}",
            (summary.session_id or "")[:SESSION_SHOWN],
        )

    # The transcript

    @on(DataTable.RowHighlighted, "#steps")
    def _step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            if self._chosen_attempt is not None and self._chosen_attempt[0] != event.row_key.value:
                self._chosen_attempt = None
            self._show_step(event.row_key.value)

    def _show_step(self, key: str | None) -> None:
        """Show the transcript of the step visit `key` (of its chosen attempt), unless it
        is shown already; a shown step that stopped running stops being followed."""
        summary = self._steps.get(key or "")
        if summary is None or self._run is None:
            return
        tries = max(len(summary.attempt_ids), 1)
        index = self._attempt_index(summary)
        last = index == tries - 1
        running = last and summary.status is StepStatus.RUNNING and not self._run.status.is_final
        transcript = self.query_one(TranscriptFile)
        agent = _agent_of(summary, index)
        attempt = f"try {index + 1} of {tries}" if tries > 1 else None
        session = f"session {summary.session_id}" if summary.session_id and last else None
        transcript.border_title = plain_title(summary.step, agent, attempt, session)
        path, placeholder = self._transcript_of(summary, index)
        stored = self._stored_attempt(summary, index, path, running)
        if stored is not None:
            path = self._stored.path(stored)
        shown = _Shown(step_key(summary), path, running, stored)
        if self._shown is not None and (self._shown.key, self._shown.path) == (shown.key, path):
            if self._shown.running != running:
                transcript.follow(running)
                if stored is not None:
                    self._pull_soon()  # its last chunks, if their notice is still to come
            self._shown = shown
            return
        self._shown = shown
        self.refresh_bindings()
        if path is None:
            transcript.show(None, placeholder=placeholder)
            return
        transcript.show(
            path,
            follow=running,
            placeholder=placeholder
            or ("waiting for the agent's output…" if running else "no transcript saved"),
            cwd=self._state.worktree_path if self._state else None,
            engine=_engine_of(summary, index),
        )
        if stored is not None:
            self._pull_soon()

    def _stored_attempt(
        self, summary: StepSummary, index: int, local: Path | None, running: bool
    ) -> int | None:
        """The attempt (of the visit's `index`) whose transcript is read from the
        database: the attempt's own file is not on this host, and its run is owned on
        another host, or, its step over, no file of its agent (`local`) is here either
        (it ran elsewhere before the run came here, or its run ended there). A step
        running here is read from its file, to come."""
        agent = _agent_of(summary, index)
        if not summary.attempt_ids or agent is None or self._run is None:
            return None
        attempt_id = summary.attempt_ids[index]
        if self._orchestrator.attempt_transcript_path(self.adw_id, agent, attempt_id) is not None:
            return None
        if owned_elsewhere(self._run.owner) or (not running and not (local and local.exists())):
            return attempt_id
        return None

    def _pull_soon(self) -> None:
        self.run_worker(self._pull_shown(), name="transcript-pull", group="transcript-pull")

    @says_store_errors
    async def _pull_shown(self) -> None:
        """The chunks of the transcript shown from the database that came since the
        last pull, copied, and shown at once."""
        shown = self._shown
        if shown is not None and shown.stored is not None and await self._stored.pull(shown.stored):
            self.query_one(TranscriptFile).grew()

    @on(Unmount)
    def _remove_stored_copies(self) -> None:
        self._stored.close()

    def _attempt_index(self, summary: StepSummary) -> int:
        """The visit's attempt whose transcript is shown: the one picked, else the last."""
        last = max(len(summary.attempt_ids), 1) - 1
        chosen = self._chosen_attempt
        if chosen is not None and chosen[0] == step_key(summary):
            return min(chosen[1], last)
        return last

    def _transcript_of(self, summary: StepSummary, index: int) -> tuple[Path | None, str]:
        """The file holding the transcript of the visit's attempt `index`, or None and
        why there is none. Each attempt keeps its own file; runs from before they did
        have only each agent's latest call."""
        agent = _agent_of(summary, index)
        if agent is None:
            return None, f"{summary.step} called no agent: no transcript"
        if summary.attempt_ids:
            attempt_id = summary.attempt_ids[index]
            kept = self._orchestrator.attempt_transcript_path(self.adw_id, agent, attempt_id)
            if kept is not None:
                return kept, ""
        if index < len(summary.attempt_ids) - 1:
            return None, f"try {index + 1}'s transcript was not kept: only a later try's was"
        later = self._later_call_of(summary)
        if later is not None:
            return None, (
                f"{agent} was called again later ({later.step}, visit {later.visit}), and "
                "this run's agents kept only their latest call's raw_output.jsonl: select "
                "the later step to read it"
            )
        return self._orchestrator.transcript_path(self.adw_id, agent), ""

    def _later_call_of(self, summary: StepSummary) -> StepSummary | None:
        """The next visit (of any step) that called the same agent, overwriting its file."""
        keys = list(self._steps)
        after = list(self._steps.values())[keys.index(step_key(summary)) + 1 :]
        return next((other for other in after if other.agent == summary.agent), None)

    def _restyle(self, _theme: Theme) -> None:
        """The timeline and the diff in the new theme's colours (a rich Text holds
        colours, not the theme's variables; the diff is drawn again when its tab shows)."""
        self._show_timeline(list(self._steps.values()))
        if self.query_one(TabbedContent).active == DIFF_TAB:
            self._load_diff()

    # The diff

    @on(TabbedContent.TabActivated, "#run-tabs", pane=f"#{DIFF_TAB}")
    def _diff_tab_shown(self) -> None:
        self._load_diff()

    def _load_diff(self) -> None:
        self.run_worker(self._read_diff(), name="worktree-diff", group="diff", exclusive=True)

    async def _read_diff(self) -> None:
        view = self.query_one(DiffView)
        try:
            diff = await self._orchestrator.worktree_diff(self.adw_id)
        except AdwError as error:
            view.clear()
            view.append([theme_text(str(error), "$warning", self.app.theme_variables)])
            return
        view.clear()
        view.append(self._diff_lines(diff))
        view.scroll_home(animate=False)

    def _diff_lines(self, diff: WorktreeDiff) -> list[Text]:
        header = Text(
            f"{diff.worktree} against {diff.base} (forked at {diff.fork_point[:10]})", "dim"
        )
        if diff.empty:
            return [header, Text(f"no changes: the worktree holds nothing {diff.base} lacks")]
        lines = diff.text.splitlines()
        colours = self.app.theme_variables
        texts = [header, *(diff_line_text(line, colours) for line in lines[:DIFF_MAX_LINES])]
        if len(lines) > DIFF_MAX_LINES:
            texts.append(
                theme_text(
                    f"… {len(lines) - DIFF_MAX_LINES:,} more lines: run "
                    f"`git diff {diff.fork_point[:10]}` in {diff.worktree}",
                    "$warning",
                    colours,
                )
            )
        return texts

    # Actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`[` `]` are shown only for a step tried more than once, and greyed out at its
        first or last try."""
        if action != "attempt":
            return True
        summary = self._shown_summary()
        if summary is None or len(summary.attempt_ids) < 2:
            return False
        step = parameters[0] if parameters and isinstance(parameters[0], int) else 0
        moved = self._attempt_index(summary) + step
        return 0 <= moved < len(summary.attempt_ids) or None

    def _shown_summary(self) -> StepSummary | None:
        return self._steps.get(self._shown.key) if self._shown is not None else None

    def action_attempt(self, step: int) -> None:
        """Show the transcript of the selected visit's earlier (-1) or later (1) try."""
        summary = self._shown_summary()
        if summary is None:
            return
        index = self._attempt_index(summary) + step
        if not 0 <= index < len(summary.attempt_ids):
            return
        self._chosen_attempt = (step_key(summary), index)
        self._show_step(step_key(summary))

    def action_toggle_diff(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = TRANSCRIPT_TAB if tabs.active == DIFF_TAB else DIFF_TAB

    async def action_reload(self) -> None:
        await self.reload()
        if self.query_one(TabbedContent).active == DIFF_TAB:
            self._load_diff()
        notify_text(self, "run reloaded", timeout=1.5)

    def action_cancel_run(self) -> None:
        run = self._run
        if run is not None and run.status.is_final:
            notify_text(
                self,
                f"run {self.adw_id} has ended ({run.status}): nothing to cancel",
                severity="warning",
                timeout=4,
            )
            return
        question = (
            f"Stop run {self.adw_id}? Its agent is killed and the run ends cancelled; "
            "t (retry) resumes it from its last completed step."
        )
        self.app.push_screen(
            ConfirmScreen("Cancel the run", question, confirm_label="Cancel run"),
            self._cancel_confirmed,
        )

    def _cancel_confirmed(self, answer: Confirmation | None) -> None:
        if answer is not None:
            self.run_worker(self._cancel(), name="cancel-run", group="run-action")

    async def _cancel(self) -> None:
        try:
            await self._orchestrator.cancel(self.adw_id)
        except AdwError as error:
            notify_text(self, str(error), title="not cancelled", severity="error", timeout=8)
            return
        notify_text(self, f"run {self.adw_id} cancelled", title="cancelled")
        await self.reload()

    def action_retry(self) -> None:
        self.run_worker(self._retry(), name="retry-run", group="run-action")

    async def _retry(self) -> None:
        try:
            await self._orchestrator.retry(self.adw_id)
        except AdwError as error:
            notify_text(self, str(error), title="not retried", severity="error", timeout=8)
            return
        notify_text(self, f"run {self.adw_id} queued again", title="retrying")
        await self.reload()

    def action_copy_path(self) -> None:
        path = self._state.worktree_path if self._state else None
        if not path:
            notify_text(
                self, f"run {self.adw_id} has no worktree yet", severity="warning", timeout=4
            )
            return
        self.app.copy_to_clipboard(path)
        notify_text(self, path, title="worktree path copied")


def _marker(run: RunRecord) -> tuple[object, ...]:
    """What moves when anything of the run changes."""
    return run.updated_at, run.status, run.version


def _agent_of(summary: StepSummary, index: int) -> str | None:
    """The agent of the visit's attempt `index`: a scout step's attempts are each of
    another agent."""
    agents = summary.attempt_agents
    return agents[index] if index < len(agents) else summary.agent


def _engine_of(summary: StepSummary, index: int) -> str | None:
    """The engine of the visit's attempt `index` (None when not recorded)."""
    engines = summary.attempt_engines
    return engines[index] if index < len(engines) else None
