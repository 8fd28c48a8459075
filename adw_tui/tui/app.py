"""The Textual app: `create_app` builds it (tests pass fixed data and a fixed clock).

The app owns an Orchestrator unless given one, and publishes its event stream on the
`runtime_events` signal from a worker on the app's own event loop: runs are asyncio tasks
of the same loop, and the screens that show events subscribe to the signal themselves.
One it owns is made just after the first frame, or when something needs it before
(`AdwApp.orchestrator`): importing the runtime (the orchestrator, its services, the
engines, git, the workflow loader, recovery) and making it (psutil, for this process's
start time) cost the first frame some 30 ms on a 2-core machine, for nothing it shows
(the runs table and the gauges are read from the store and the settings).

The top-level sections (the dashboard, the dead letters, the workflows) are modes, each
with its own screen stack: switching section keeps where each one was, and a run's detail
or history opened within a section is pushed on that section's stack.
"""

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.dom import DOMNode
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from adw_tui.config import Settings
from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.domain.issues import IssueState
from adw_tui.runtime.events import RuntimeEvent
from adw_tui.store import Store
from adw_tui.tui import screens, stepping_in
from adw_tui.tui.alerts import TerminalAlerts
from adw_tui.tui.notify import notify_text
from adw_tui.tui.preferences import PREFERENCES_FILE, Preferences, config_dir, user_themes_dir
from adw_tui.tui.screens.base import DASHBOARD_MODE, AdwScreen, OpenRun
from adw_tui.tui.screens.dashboard import Dashboard
from adw_tui.tui.stepping_in import ForegroundRunner, SuspendingRunner
from adw_tui.tui.stylesheet import ParseOnceStylesheet
from adw_tui.tui.themes import DEFAULT_THEME, load_themes, load_user_themes

# The screens other than the dashboard, and what only they use, are imported when first
# opened: the first frame waits for none of them.
if TYPE_CHECKING:
    from adw_tui.runtime.orchestrator import Orchestrator
    from adw_tui.tui.screens.launch import LaunchRequest
    from adw_tui.tui.screens.workflows import WorkflowsScreen

Startup = Callable[["Orchestrator"], Awaitable[None]]

# The other sections' modes, named after the actions that open them (`d`, `w`).
DEAD_LETTERS_MODE = "dead_letters"
WORKFLOWS_MODE = "workflows"
WORKTREES_MODE = "worktrees"
KPIS_MODE = "kpis"
FLEET_MODE = "fleet"
LAUNCH_ISSUES = 1000
"""The newest open issues the launch dialog lists (older ones: type the number)."""


def binding_ids() -> set[str]:
    """The id of every binding of the dashboard's app, screens and widgets (the screens
    not opened yet are imported for it)."""
    import pkgutil

    for module in pkgutil.iter_modules(screens.__path__, f"{screens.__name__}."):
        importlib.import_module(module.name)
    ids: set[str] = set()
    classes: list[type[DOMNode]] = [DOMNode]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.__module__.startswith("adw_tui.tui"):
            ids.update(b.id for b in cls.BINDINGS if isinstance(b, Binding) and b.id)
    return ids


def adw_commands() -> type[Provider]:
    """The command palette's adw commands, imported when the palette first opens."""
    from adw_tui.tui.commands import AdwCommands

    return AdwCommands


class AdwApp(App[None]):
    """The adw dashboard."""

    CSS_PATH = "app.tcss"
    DEFAULT_MODE = DASHBOARD_MODE
    TITLE = "adw"
    COMMANDS = App.COMMANDS | {adw_commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("n", "launch", "Launch", id="app.launch"),
        Binding("h", "history", "History", id="app.history"),
        Binding("p", "pause_resume", "Pause/resume", id="app.pause_resume"),
        Binding("d", "dead_letters", "Dead letters", id="app.dead_letters"),
        Binding("w", "workflows", "Workflows", id="app.workflows"),
        Binding("W", "worktrees", "Worktrees", id="app.worktrees"),
        Binding("k", "kpis", "KPIs", id="app.kpis"),
        # Off the footer (there is no room for it before Help): `F`, the palette, F1.
        Binding("F", "fleet", "Fleet", id="app.fleet", show=False),
        Binding("f1", "toggle_help", "Help", id="app.help"),
        # Last: the footer cuts what does not fit from its end, and Help must stay.
        Binding("a", "attach", "Attach", id="app.attach"),
        Binding("s", "shell", "Shell", id="app.shell"),
        Binding("P", "push", "Push", id="app.push"),
        Binding("o", "open_run", "Open PR/branch", id="app.open"),
        Binding("b", "best_of", "Best of", id="app.best_of"),
    ]
    RUN_ACTIONS = frozenset(
        {"history", "pause_resume", "attach", "shell", "push", "open_run", "best_of"}
    )
    """The actions on the selected run: off where no run is selected."""

    def __init__(
        self,
        store: Store,
        repo: Path,
        settings: Settings,
        *,
        orchestrator: "Orchestrator | None" = None,
        clock: Clock = utc_now,
        startup: Startup | None = None,
        recover_on_start: bool = False,
        config: Path | None = None,
        runner: ForegroundRunner | None = None,
        on_first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._on_first_frame = on_first_frame
        self.store = store
        self.repo = repo
        self.settings = settings
        self._owns_orchestrator = orchestrator is None
        self._orchestrator = orchestrator
        self.runtime_started = asyncio.Event()
        """Set once the orchestrator is made and the app's work with it started (runtime
        events followed, recovery and `startup` under way): just after the first frame
        for an orchestrator the app owns, at mount for one it was given."""
        self._startup = startup
        self._recover_on_start = recover_on_start
        self.sub_title = str(repo)
        self.config_dir = config or config_dir()
        self._problems: list[AdwError] = []
        self.preferences = self._load_preferences()
        self.alerts = TerminalAlerts.of(self, self.preferences.notifications)
        """The bell and desktop notifications of run endings and waits (tui.toml)."""
        self._register_themes()
        # Made once the theme is set: the first parse is then already the theme's.
        self.stylesheet = ParseOnceStylesheet(variables=self.get_css_variables())
        self.clock = clock
        self.runner: ForegroundRunner = runner or SuspendingRunner()
        """What hands the terminal to a person's command (attach, shell)."""
        self.runtime_events: Signal[RuntimeEvent] = Signal(self, "runtime-events")
        """Every runtime event, for the screens that show them to subscribe to."""
        for mode, screen in self._sections().items():
            self.add_mode(mode, screen)

    def _sections(self) -> dict[str, Callable[[], Screen[None]]]:
        """The top-level sections, by mode: each makes its screen when first shown."""
        return {
            DASHBOARD_MODE: lambda: Dashboard(self.store, self.clock),
            DEAD_LETTERS_MODE: self._dead_letters_screen,
            WORKFLOWS_MODE: self._workflows_screen,
            WORKTREES_MODE: self._worktrees_screen,
            KPIS_MODE: self._kpis_screen,
            FLEET_MODE: self._fleet_screen,
        }

    def _dead_letters_screen(self) -> AdwScreen:
        from adw_tui.tui.screens.dead_letters import DeadLettersScreen

        return DeadLettersScreen(self.store, self.orchestrator, clock=self.clock)

    def _workflows_screen(self) -> AdwScreen:
        from adw_tui.tui.screens.workflows import WorkflowsScreen

        return WorkflowsScreen(self.repo)

    def _worktrees_screen(self) -> AdwScreen:
        from adw_tui.tui.screens.worktrees import WorktreesScreen

        return WorktreesScreen(self.store, self.orchestrator, self.clock)

    def _load_preferences(self) -> Preferences:
        try:
            return Preferences.load(self.config_dir)
        except AdwError as error:
            self._problems.append(error)
            return Preferences()

    def _register_themes(self) -> None:
        user_themes, problems = load_user_themes(user_themes_dir(self.config_dir))
        self._problems.extend(problems)
        for theme in [*load_themes(), *user_themes]:
            self.register_theme(theme)
        wanted = self.preferences.theme
        if wanted and wanted not in self.available_themes:
            self._problems.append(AdwError(f'theme "{wanted}" is not installed; using default'))
            wanted = None
        self.theme = wanted or DEFAULT_THEME

    @property
    def dashboard(self) -> Dashboard:
        """The dashboard: the screen of the dashboard mode."""
        screen = self.get_screen_stack(DASHBOARD_MODE)[0]
        assert isinstance(screen, Dashboard)
        return screen

    @property
    def orchestrator(self) -> "Orchestrator":
        """The runtime. One the app owns is made here when first asked for: just after
        the first frame (`_start_runtime`), or earlier by whatever needs it first (a key
        pressed in the first instant); its events are followed from then on."""
        if self._orchestrator is None:
            from adw_tui.runtime.orchestrator import Orchestrator

            self._orchestrator = Orchestrator(self.store, self.repo, self.settings)
            self._follow_runtime(self._orchestrator)
        return self._orchestrator

    @property
    def orchestrator_made(self) -> "Orchestrator | None":
        """The orchestrator if it is made yet, without making it (the first frame shows
        nothing that needs it)."""
        return self._orchestrator

    def on_mount(self) -> None:
        if self._on_first_frame is not None:
            # After the first frame: what it does (configuring the logs) imports modules
            # the dashboard need not wait for.
            self.call_after_refresh(self._on_first_frame)
        self._apply_keymap()
        self.alerts.follow_suspension()
        for problem in self._problems:
            notify_text(self, str(problem), title="configuration", severity="warning", timeout=10)
        self.theme_changed_signal.subscribe(self, lambda _theme: self._persist_theme())
        if self._orchestrator is None:
            self.call_after_refresh(self._start_runtime)
        else:
            self._follow_runtime(self._orchestrator)
            self._start_runtime()

    def _start_runtime(self) -> None:
        """The orchestrator made (if it is not yet), runs a dead process left behind
        settled, and `startup` run."""
        orchestrator = self.orchestrator
        if self._recover_on_start:
            self.run_worker(self._recover(orchestrator), name="recovery", exit_on_error=False)
        if self._startup is not None:
            self.run_worker(self._startup(orchestrator), name="startup", exit_on_error=False)
        self.runtime_started.set()

    def _apply_keymap(self) -> None:
        """Remap bindings by id from the preferences' `[keymap]`; an unknown id is named."""
        keymap = self.preferences.keymap
        unknown = sorted(set(keymap) - binding_ids()) if keymap else []
        if unknown:
            notify_text(
                self,
                f"{self.config_dir / PREFERENCES_FILE}: no binding has the id "
                f"{', '.join(unknown)}; the ids are listed in the README",
                title="configuration",
                severity="warning",
                timeout=10,
            )
        self.set_keymap(keymap)

    def _follow_runtime(self, orchestrator: "Orchestrator") -> None:
        """Publish the orchestrator's events on `runtime_events`, from a worker."""

        async def follow() -> None:
            async for event in orchestrator.subscribe():
                self.runtime_events.publish(event)

        self.run_worker(follow(), name="runtime-events", exit_on_error=False)

    async def _recover(self, orchestrator: "Orchestrator") -> None:
        """Settle runs a dead process left `running`, as `adw run` does at start."""
        from adw_tui.runtime.recovery import recover_at_start

        action = self.settings.recover_action
        orphans, resumed = await recover_at_start(orchestrator, action)
        for orphan in orphans:
            then = "resumed" if orphan.adw_id in resumed else "dead-lettered"
            notify_text(
                self,
                f"{orphan.adw_id} was left running ({orphan.reason}): {then}",
                title="recovered",
                severity="warning",
                timeout=10,
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that fails says so instead of dying silently."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            notify_text(
                self,
                f"{event.worker.name}: {type(error).__name__}: {error}",
                title="error",
                severity="error",
                timeout=10,
            )

    async def close_runtime(self) -> None:
        """Stop the runs of an orchestrator this app owns: they end `interrupted`, to be
        resumed with `adw recover`. Safe to call twice."""
        if self._owns_orchestrator and self._orchestrator is not None:
            await self._orchestrator.aclose()

    async def action_quit(self) -> None:
        await self.close_runtime()
        self.exit()

    # Themes

    def switch_theme(self, name: str) -> None:
        self.theme = name

    def _persist_theme(self) -> None:
        if self.preferences.theme == self.theme:
            return
        self.preferences = self.preferences.model_copy(update={"theme": self.theme})
        try:
            self.preferences.save(self.config_dir)
        except OSError as error:
            notify_text(
                self,
                f"theme not kept: cannot write {self.config_dir}: {error.strerror}",
                severity="warning",
            )

    # Launching

    async def action_launch(self) -> None:
        await self.open_launch()

    async def open_launch(self, issue: int | None = None, workflow: str = "sdlc") -> None:
        """The launch dialog, with the tracker's issues and the repository's workflows."""
        from adw_tui.tui.screens.launch import LaunchScreen, WorkflowChoice
        from adw_tui.workflows.loader import load_workflows_report

        try:
            tracker = self.orchestrator.tracker
            issues = [
                issue async for issue in tracker.issues(state=IssueState.OPEN, limit=LAUNCH_ISSUES)
            ]
        except AdwError as error:
            notify_text(self, f"cannot list issues: {error}", severity="error")
            issues = []
        workflows, _broken = load_workflows_report(self.repo)
        choices = [
            WorkflowChoice(name, loaded.definition.description or "")
            for name, loaded in workflows.items()
        ]
        screen = LaunchScreen(
            issues=issues,
            workflows=choices,
            engine=self.settings.engine,
            workflow=workflow,
            issue=issue,
        )
        await self.push_screen(screen, self._launch)

    async def _launch(self, request: "LaunchRequest | None") -> None:
        from adw_tui.runtime.best_of import launch_group
        from adw_tui.tui.screens.launch import NewIssue

        if request is None:
            return
        try:
            if isinstance(request.issue, NewIssue):
                created = await self.orchestrator.tracker.create_issue(
                    request.issue.title, request.issue.body
                )
                number = created.number
            else:
                number = request.issue
            fleet_labels: list[str] | None = [] if self.orchestrator.settings.fleet else None
            if request.best_of > 1:
                launched = await launch_group(
                    self.orchestrator,
                    number,
                    workflow=request.workflow,
                    size=request.best_of,
                    engines=[request.engine],
                    model_sets=[request.model_set],
                    fleet_labels=fleet_labels,
                )
            else:
                launched = [
                    await self.orchestrator.launch(
                        number,
                        workflow=request.workflow,
                        engine=request.engine,
                        model_set=request.model_set,
                        fleet_labels=fleet_labels,
                    )
                ]
        except AdwError as error:
            notify_text(self, str(error), title="not launched", severity="error", timeout=8)
            return
        group = f" (best of {len(launched)}: `b` compares them)" if len(launched) > 1 else ""
        notify_text(
            self,
            f"{', '.join(launched)}: {request.workflow} for issue #{number}{group}",
            title="launched",
        )

    # The other screens

    @property
    def selected_run(self) -> str | None:
        """The run the screen on top is about (see `AdwScreen.selected_run`)."""
        screen = self.screen
        return screen.selected_run if isinstance(screen, AdwScreen) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """History, attach, shell, push and open need a run to be about, and a section
        is not opened from within itself: where an action does not apply, its key is
        off and hidden from the footer."""
        if action in self.RUN_ACTIONS:
            return self.selected_run is not None
        if action in (DEAD_LETTERS_MODE, WORKFLOWS_MODE, WORKTREES_MODE, KPIS_MODE, FLEET_MODE):
            return self.current_mode != action
        return True

    async def on_open_run(self, message: OpenRun) -> None:
        await self.open_run_detail(message.adw_id)

    async def open_run_detail(self, adw_id: str) -> None:
        from adw_tui.tui.screens.run_detail import RunDetailScreen

        await self.push_screen(
            RunDetailScreen(self.store, self.orchestrator, adw_id, clock=self.clock)
        )

    async def action_history(self) -> None:
        from adw_tui.tui.screens.history import HistoryScreen

        adw_id = self.selected_run
        if adw_id is not None:
            await self.push_screen(HistoryScreen(self.store, self.orchestrator, adw_id, self.clock))

    async def action_best_of(self) -> None:
        """The selected run's best-of group side by side (a run of none: itself)."""
        adw_id = self.selected_run
        if adw_id is not None:
            from adw_tui.tui.screens.compare import CompareScreen

            await self.push_screen(CompareScreen(self.orchestrator, adw_id))

    def action_pause_resume(self) -> None:
        from adw_tui.tui.pausing import pause_or_resume

        adw_id = self.selected_run
        if adw_id is not None:
            self.run_worker(
                pause_or_resume(self, self.orchestrator, adw_id),
                name="pause-resume",
                group="run-action",
                exit_on_error=False,
            )

    # Stepping in (see tui.stepping_in)

    async def action_attach(self) -> None:
        if (adw_id := self.selected_run) is not None:
            await stepping_in.attach(self, adw_id)

    async def action_shell(self) -> None:
        if (adw_id := self.selected_run) is not None:
            await stepping_in.shell(self, adw_id)

    def action_push(self) -> None:
        if (adw_id := self.selected_run) is not None:
            self.run_worker(stepping_in.push(self, adw_id), name="push", group="push")

    async def action_open_run(self) -> None:
        if (adw_id := self.selected_run) is not None:
            await stepping_in.open_in_browser(self, adw_id)

    async def action_dead_letters(self) -> None:
        await self.switch_mode(DEAD_LETTERS_MODE)

    async def action_workflows(self) -> None:
        await self.switch_mode(WORKFLOWS_MODE)

    async def action_worktrees(self) -> None:
        await self.switch_mode(WORKTREES_MODE)

    def _kpis_screen(self) -> AdwScreen:
        """The KPI screen (its charts' library, plotext, costs ~90 ms to import)."""
        from adw_tui.tui.screens.kpis import KpisScreen

        return KpisScreen(self.store, self.clock)

    async def action_kpis(self) -> None:
        await self.switch_mode(KPIS_MODE)

    def _fleet_screen(self) -> AdwScreen:
        from adw_tui.tui.screens.fleet import FleetScreen

        return FleetScreen(self.store, self.clock)

    async def action_fleet(self) -> None:
        await self.switch_mode(FLEET_MODE)

    async def on_workflows_screen_launch_requested(
        self, message: "WorkflowsScreen.LaunchRequested"
    ) -> None:
        await self.open_launch(workflow=message.workflow)

    def action_toggle_help(self) -> None:
        from textual.widgets import HelpPanel  # with its Markdown (markdown-it, pygments)

        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def create_app(
    store: Store,
    repo: Path,
    settings: Settings,
    *,
    orchestrator: "Orchestrator | None" = None,
    clock: Clock | None = None,
    startup: Startup | None = None,
    recover_on_start: bool = False,
    config: Path | None = None,
    runner: ForegroundRunner | None = None,
    on_first_frame: Callable[[], None] | None = None,
) -> AdwApp:
    """The dashboard on `repo`. `clock` (default: the UTC wall clock) is what elapsed
    times count to; `startup` runs once the dashboard is up (`adw demo` launches its
    issues there); `recover_on_start` settles runs a dead process left behind first;
    `config` is the user config directory (default: `config_dir()`); `runner` hands the
    terminal to attach's and shell's commands (default: the dashboard suspended);
    `on_first_frame` is called once the first frame is drawn."""
    return AdwApp(
        store,
        repo,
        settings,
        orchestrator=orchestrator,
        clock=clock or utc_now,
        startup=startup,
        recover_on_start=recover_on_start,
        config=config,
        runner=runner,
        on_first_frame=on_first_frame,
    )
