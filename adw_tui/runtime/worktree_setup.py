"""The worktree set-up hook (the original ADW's `/install_worktree`): a command run once in
each new worktree before the run's first step, to install dependencies or copy env files.

It is the operator's: `worktree_setup` in the settings (a shell command), else the
executable `.adw/hooks/worktree-setup` of the repository's main checkout (never one an
agent wrote in a worktree). It runs in the worktree, with the agents' environment plus
the run's id, worktree and ports, in a session of its own, within a time limit; its
output goes to `agents/<adw_id>/worktree-setup.log`, and a failure is the step's, with
the output's last lines.
"""

import asyncio
import os
from pathlib import Path

from adw_tui.agents.environment import agent_environment
from adw_tui.agents.process import kill_process_tree
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.runtime.ports import PortPair

HOOK = Path(".adw") / "hooks" / "worktree-setup"
LOG_NAME = "worktree-setup.log"
SETUP_DONE = "worktree-setup.done"
"""Beside the log once the set-up succeeded: a replay after a failed one runs it again."""
TAIL_LINES = 5
KILL_GRACE_S = 2.0


def setup_command(repo: Path, settings: Settings) -> list[str] | None:
    """What to run: the setting's shell command, else the repository's hook; None when
    there is neither. A hook that is not executable is an AdwError saying so."""
    if settings.worktree_setup:
        return ["/bin/sh", "-c", settings.worktree_setup]
    hook = repo / HOOK
    if not hook.is_file():
        return None
    if not os.access(hook, os.X_OK):
        raise AdwError(f"{hook} is not executable: `chmod +x {HOOK}` (or remove it)")
    return [str(hook)]


async def run_setup(
    command: list[str],
    worktree: Path,
    *,
    adw_id: str,
    ports: PortPair,
    log: Path,
    timeout_s: float,
    agent_env: list[str],
) -> None:
    """Run the set-up in `worktree`, its output (stdout and stderr) in `log`; an AdwError
    when it fails or outlives `timeout_s` (its process group is killed then)."""
    env = {
        **agent_environment(os.environ, agent_env),
        "ADW_ID": adw_id,
        "ADW_WORKTREE": str(worktree),
        "BACKEND_PORT": str(ports.backend),
        "FRONTEND_PORT": str(ports.frontend),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=worktree,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(timeout_s):
                code = await process.wait()
        except TimeoutError:
            raise AdwError(
                f"the worktree set-up did not finish in {timeout_s:g}s "
                f"(ADW_WORKTREE_SETUP_TIMEOUT); its output is in {log}"
            ) from None
        finally:
            if process.returncode is None:  # timed out, or the run was cancelled
                await asyncio.shield(kill_process_tree(process, grace_s=KILL_GRACE_S))
    if code != 0:
        raise AdwError(
            f"the worktree set-up exited {code} in {worktree}: {_tail(log)} "
            f"(all of it in {log}); fix the hook and replay the run"
        )


def _tail(log: Path) -> str:
    lines = log.read_bytes().decode("utf-8", errors="replace").strip().splitlines()
    return terminal_safe(" / ".join(lines[-TAIL_LINES:])[:500]) or "no output"
