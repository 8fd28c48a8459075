"""The Textual app: `create_app` builds it (tests pass fixed data and a fixed clock).

The app owns an Orchestrator unless given one, and turns its event stream into UI
updates in a worker on the app's own event loop: runs are asyncio tasks of the same loop,
and agent lines only go into the panes' buffers, so the UI never waits on an agent.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import HelpPanel
from textual.worker import Worker, WorkerState

from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.screens.dashboard import Clock, Dashboard
from adw_tui.tui.screens.launch import LaunchRequest, LaunchScreen
from adw_tui.tui.themes import DEFAULT_THEME, load_themes

Startup = Callable[[Orchestrator], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AdwApp(App[None]):
    """The adw dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "adw"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("n", "launch", "Launch", id="app.launch"),
        Binding("f1", "toggle_help", "Help", id="app.help"),
    ]

    def __init__(
        self,
        store: Store,
        repo: Path,
        settings: Settings,
        *,
        orchestrator: Orchestrator | None = None,
        clock: Clock = utc_now,
        startup: Startup | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.repo = repo
        self.settings = settings
        self._owns_orchestrator = orchestrator is None
        self.orchestrator = orchestrator or Orchestrator(store, repo, settings)
        self._startup = startup
        self._runtime_closed = False
        self.sub_title = str(repo)
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = DEFAULT_THEME

        self.dashboard = Dashboard(store, self.orchestrator, clock)

    def get_default_screen(self) -> Dashboard:
        return self.dashboard

    def on_mount(self) -> None:
        self.run_worker(self._follow_runtime(), name="runtime-events", exit_on_error=False)
        if self._startup is not None:
            self.run_worker(self._startup(self.orchestrator), name="startup", exit_on_error=False)

    async def _follow_runtime(self) -> None:
        dashboard = self.dashboard
        async for event in self.orchestrator.subscribe():
            await dashboard.apply(event)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that fails says so instead of dying silently."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{event.worker.name}: {type(error).__name__}: {error}",
                title="error",
                severity="error",
                timeout=10,
            )

    async def close_runtime(self) -> None:
        """Stop the runs of an orchestrator this app owns: they end `interrupted`, to be
        resumed with `adw recover`. Safe to call twice."""
        if self._owns_orchestrator and not self._runtime_closed:
            self._runtime_closed = True
            await self.orchestrator.shutdown(0)

    async def action_quit(self) -> None:
        await self.close_runtime()
        self.exit()

    def action_launch(self) -> None:
        self.push_screen(LaunchScreen(engine=self.settings.engine), self._launch)

    async def _launch(self, request: LaunchRequest | None) -> None:
        if request is None:
            return
        try:
            adw_id = await self.orchestrator.launch(
                request.issue, workflow=request.workflow, engine=request.engine
            )
        except AdwError as error:
            self.notify(str(error), title="not launched", severity="error", timeout=8)
            return
        self.notify(f"{adw_id}: {request.workflow} for issue #{request.issue}", title="launched")

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def create_app(
    store: Store,
    repo: Path,
    settings: Settings,
    *,
    orchestrator: Orchestrator | None = None,
    clock: Clock | None = None,
    startup: Startup | None = None,
) -> AdwApp:
    """The dashboard on `repo`. `clock` (default: the UTC wall clock) is what elapsed
    times count to; `startup` runs once the dashboard is up (`adw demo` launches its
    issues there)."""
    return AdwApp(
        store,
        repo,
        settings,
        orchestrator=orchestrator,
        clock=clock or utc_now,
        startup=startup,
    )
