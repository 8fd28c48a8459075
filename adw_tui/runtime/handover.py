"""Stepping in: a person takes a run over in its worktree, from the dashboard (`a`, `s`)
or a shell (`adw attach`, `adw shell`).

A `Handover` is the command that person runs in the terminal's foreground: the engine's
interactive session resumed where the run's agent left it (attach), or their own shell
(shell). Planning one reads the run and checks everything first (a session to resume, a
worktree on disk, an engine with an interactive mode), so that a refusal is a clear
message and nothing else; `record_return` writes down, once the person is back, that
they took over.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from adw_tui.agents.registry import DEFAULT_TRANSCRIPT_ENGINE, interactive_resume
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunRecord, RunState, RunStatus
from adw_tui.runtime import git
from adw_tui.runtime.notify_command import operator_environment
from adw_tui.runtime.ports import PortPair, ports_env
from adw_tui.store import Store

FALLBACK_SHELL = "/bin/sh"
# What a session id may look like before it goes on a command line (Claude Code's are
# UUIDs): nothing an option parser would read as a flag.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class Handover:
    """A command a person runs in the run's worktree, in the terminal's foreground."""

    adw_id: str
    kind: Literal["attach", "shell"]
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(repr=False)
    step: str | None = None
    engine: str | None = None
    session_id: str | None = None

    @property
    def what(self) -> str:
        """What the person is handed, for messages."""
        if self.kind == "shell":
            return f"a shell in {self.cwd}"
        return f"{self.engine} session {self.session_id} of step {self.step}"


async def plan_attach(
    store: Store, adw_id: str, settings: Settings, *, running: bool = False
) -> Handover:
    """The engine's interactive session resuming the run's latest agent session, in its
    worktree, with the allow-listed environment the engine gives its agents.

    `running` plans for a running run, to refuse what would fail before it is paused
    for the attach (which then plans again: the pause may record a newer session)."""
    loaded = await store.load(adw_id)
    if not running:
        refuse_active(loaded.run)
    attempts = await store.steps.for_run(adw_id)
    last = next((attempt for attempt in reversed(attempts) if attempt.session_id), None)
    if last is None or last.session_id is None:
        raise AdwError(
            f"run {adw_id} has no agent session to attach to: none of its steps recorded "
            "one (it stopped before an agent answered); open a shell in its worktree "
            "instead (`s`, `adw shell`)"
        )
    if not _SESSION_ID.fullmatch(last.session_id):
        raise AdwError(
            f"run {adw_id}: step {last.step} recorded a session id that is not one "
            f"({last.session_id[:40]!r}); nothing was started"
        )
    worktree = _worktree(adw_id, loaded.state)
    engine = last.engine or DEFAULT_TRANSCRIPT_ENGINE
    interactive = interactive_resume(engine, settings, last.session_id)
    return Handover(
        adw_id,
        "attach",
        interactive.argv,
        worktree,
        interactive.env,
        step=last.step,
        engine=engine,
        session_id=last.session_id,
    )


def refuse_active(run: RunRecord) -> None:
    """Attach only to a run nothing executes: its agent would answer the same session.
    (The dashboard's `a` and `adw attach` pause a running run first.)"""
    if run.status is RunStatus.RUNNING:
        raise AdwError(
            f"run {run.adw_id} is running: pause it first (p, `adw pause {run.adw_id}`), "
            "then attach"
        )
    if run.status is RunStatus.QUEUED:
        raise AdwError(
            f"run {run.adw_id} is queued and about to run: attach once it has stopped, "
            "or cancel it first"
        )


async def plan_shell(store: Store, adw_id: str, environ: Mapping[str, str]) -> Handover:
    """The operator's `$SHELL` (else /bin/sh) in the run's worktree, with their own
    environment (less the secrets adw holds for GitHub) and the run's ports.

    The ports are the run's own, as its state records them (what adw wrote to
    `.ports.env`), not read back from the file, which the run's agents could edit."""
    state = (await store.load(adw_id)).state
    worktree = _worktree(adw_id, state)
    env = operator_environment(environ)
    if state.backend_port is not None and state.frontend_port is not None:
        env.update(ports_env(PortPair(state.backend_port, state.frontend_port)))
    env["ADW_ID"] = adw_id
    shell = environ.get("SHELL") or FALLBACK_SHELL
    return Handover(adw_id, "shell", [shell], worktree, env)


def _worktree(adw_id: str, state: RunState) -> Path:
    """The run's worktree, which must be on disk."""
    if not state.worktree_path:
        raise AdwError(f"run {adw_id} has no worktree: it stopped before its worktree was made")
    path = Path(state.worktree_path)
    if not path.is_dir():
        branch = state.branch_name or "(none recorded)"
        raise AdwError(
            f"the worktree {path} of run {adw_id} is gone (removed with `adw worktrees "
            f"rm` or by hand); its branch {branch} keeps its commits: retry the run (t, "
            "`adw run --adw-id`) to make the worktree again from it"
        )
    return path


async def record_return(
    store: Store,
    handover: Handover,
    *,
    exit_code: int,
    started: datetime,
    ended: datetime,
    actor: str,
) -> int | None:
    """Write down that a person took the run over: for an attach, an audit entry and a
    version of the run's history with the worktree's HEAD after (see
    `Store.record_takeover`; its number, or None); for a shell, an audit entry."""
    seconds = round((ended - started).total_seconds(), 1)
    detail = {
        "cwd": str(handover.cwd),
        "exit_code": exit_code,
        "started": started.isoformat(timespec="seconds"),
        "seconds": seconds,
    }
    if handover.kind == "shell":
        await store.audit.record(
            actor=actor, action="run.shell", adw_id=handover.adw_id, detail=detail
        )
        return None
    try:
        head: str | None = await git.head(handover.cwd)
    except AdwError:
        head = None  # the worktree went while the person worked in it
    reason = (
        f"{actor} took over step {handover.step} in an interactive {handover.engine} session "
        f"({handover.session_id}) for {seconds:g}s, exit {exit_code}"
    )
    return await store.record_takeover(
        handover.adw_id,
        reason=reason,
        actor=actor,
        git_head=head,
        detail={
            **detail,
            "step": handover.step,
            "engine": handover.engine,
            "session_id": handover.session_id,
        },
    )
