"""The operator's hands on the selected run: attach to its agent's session (`a`), a shell
in its worktree (`s`), push its branch (`P`), open its pull request or branch (`o`).

Attach and shell hand the terminal to a command (`runtime.handover`) through a
`ForegroundRunner`: the real one suspends the dashboard (`App.suspend()`) while the
command runs; tests give the app one that records what it was handed.
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from textual.app import App, SuspendNotSupported

from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.tui.notify import notify_text
from adw_tui.tui.pausing import resume_paused

# The runtime's side of a handover is imported when one is made: the dashboard's first
# frame waits for none of the runtime (see `adw_tui.tui.app`).
if TYPE_CHECKING:
    from adw_tui.runtime.handover import Handover
    from adw_tui.tui.app import AdwApp
    from adw_tui.tui.widgets.confirm import Confirmation

OPERATOR = "operator"
"""Who the audit log and the run's history say stepped in from the dashboard."""


class ForegroundRunner(Protocol):
    async def run(self, app: App[None], handover: "Handover") -> int:
        """Give the terminal to the handover's command until it ends; its exit code."""
        ...


class SuspendingRunner:
    """The dashboard suspended (the terminal as it was before adw started) while the
    command runs in the foreground, then drawn again.

    The event loop keeps running meanwhile (runs in progress here go on); repaints are
    held back (`batch_update`) so that nothing is written to a terminal the dashboard
    has handed over."""

    async def run(self, app: App[None], handover: "Handover") -> int:
        from adw_tui.runtime.foreground import run_in_foreground

        try:
            with app.batch_update(), app.suspend():
                return await run_in_foreground(handover)
        except SuspendNotSupported:
            raise AdwError(
                f"this dashboard cannot hand its terminal over (it runs in a browser): "
                f"run `adw {handover.kind} {handover.adw_id}` in a shell instead"
            ) from None
        finally:
            app.refresh(layout=True)


async def attach(app: "AdwApp", adw_id: str) -> None:
    """Attach to the run's agent session; a running run is paused first, once the
    operator confirms, and resumed on return if they ticked so."""
    try:
        run = await app.orchestrator.store.get_run(adw_id)
        if run.status is RunStatus.RUNNING:
            await app.orchestrator.plan_attach(adw_id, running=True)
    except AdwError as error:
        notify_text(app, str(error), title="no attach", severity="error", timeout=10)
        return
    if run.status is not RunStatus.RUNNING:
        await _step_in(app, adw_id, "attach", app.orchestrator.plan_attach)
        return

    from adw_tui.tui.widgets.confirm import ConfirmScreen  # its buttons: not on the dashboard

    async def pause_and_attach(confirmation: "Confirmation | None") -> None:
        if confirmation is None:
            return
        try:
            paused = await app.orchestrator.pause(adw_id, actor=OPERATOR)
        except AdwError as error:
            notify_text(app, str(error), title="no attach", severity="error", timeout=10)
            return
        if paused.status is not RunStatus.PAUSED:
            notify_text(app, f"run {adw_id} ended {paused.status}", title="no attach")
            return
        await _step_in(app, adw_id, "attach", app.orchestrator.plan_attach)
        if confirmation.option:
            await resume_paused(app, app.orchestrator, adw_id)

    app.push_screen(
        ConfirmScreen(
            "Attach to a running run",
            f"Run {adw_id} is running. Pause it (its step stops, its session is kept, its "
            "slot goes to the queue) and attach to its agent's session?",
            confirm_label="Pause and attach",
            option="resume the run when I am back",
            option_default=True,
        ),
        pause_and_attach,
    )


async def shell(app: "AdwApp", adw_id: str) -> None:
    await _step_in(app, adw_id, "shell", app.orchestrator.plan_shell)


async def _step_in(
    app: "AdwApp", adw_id: str, kind: str, plan: Callable[[str], Awaitable["Handover"]]
) -> None:
    """Plan the handover (a refusal is a toast, nothing else), run it, record it."""
    try:
        handover = await plan(adw_id)
    except AdwError as error:
        notify_text(app, str(error), title=f"no {kind}", severity="error", timeout=10)
        return
    started = utc_now()
    try:
        code = await app.runner.run(app, handover)
    except AdwError as error:
        notify_text(app, str(error), title=f"no {kind}", severity="error", timeout=10)
        return
    try:
        version = await app.orchestrator.handed_back(
            handover, exit_code=code, started=started, ended=utc_now(), actor=OPERATOR
        )
    except AdwError as error:
        notify_text(
            app,
            f"back from {handover.what} (exit {code}), but it could not be recorded: {error}",
            title=f"run {adw_id}",
            severity="error",
            timeout=10,
        )
        return
    recorded = f"; version {version} of its history says so" if version else ""
    notify_text(
        app,
        f"back from {handover.what} (exit {code}){recorded}",
        title=f"run {adw_id}",
        severity="information" if code == 0 else "warning",
    )


async def push(app: "AdwApp", adw_id: str) -> None:
    """Push the run's branch (never forced) and say how it went."""
    try:
        pushed = await app.orchestrator.push_branch(adw_id, actor=OPERATOR)
    except AdwError as error:
        notify_text(app, str(error), title="not pushed", severity="error", timeout=10)
        return
    notify_text(
        app, f"{pushed.branch} ({pushed.head[:10]}) is on origin", title=f"run {adw_id} pushed"
    )


async def open_in_browser(app: "AdwApp", adw_id: str) -> None:
    """Open the run's pull request, else its branch's page on origin, in the browser."""
    try:
        url = await app.orchestrator.web_url(adw_id)
    except AdwError as error:
        notify_text(app, str(error), title="nothing to open", severity="warning", timeout=8)
        return
    app.open_url(url)
    notify_text(app, url, title="opening")
