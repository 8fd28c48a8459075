"""The Gemini CLI engine (`@google/gemini-cli`): `gemini -p --output-format stream-json`.

Gemini CLI reads its settings from `<home>/.gemini/settings.json`, home being
`GEMINI_CLI_HOME` when set, else HOME. adw respects a configuration the user made: when
`GEMINI_CLI_HOME` is set, or `~/.gemini/settings.json` exists, the CLI runs with it as it
is. Otherwise adw gives the CLI a home of its own (`GEMINI_HOME_DIR` under the user's
state directory), whose settings.json adw writes and owns; the sessions of its calls are
kept there too, so that a call can be resumed. That file holds no secret: the key stays
in `GEMINI_API_KEY`, in the environment. It selects API-key auth when that variable is
set (the CLI cannot tell from the environment alone when `GOOGLE_GEMINI_BASE_URL` points
at a proxy), switches telemetry and update checks off, keeps the `.env` files of the
worktree and its parents out of the agent's environment (the CLI loads the nearest one
otherwise), and caps the CLI's own attempts at the API (`general.maxAttempts`, see
`API_ATTEMPTS`).
"""

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adw_tui.agents.engine import AgentStream, StartHook
from adw_tui.agents.environment import agent_environment
from adw_tui.agents.gemini_stream import GeminiStreamParser
from adw_tui.agents.runner import run_cli_agent
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass
from adw_tui.domain.errors import AdwError

PATH_VARIABLE = "ADW_GEMINI_PATH"
# What Gemini CLI reads beyond adw's allow-list: its key and home (GEMINI_API_KEY,
# GEMINI_CLI_HOME, ...) and the API's address.
GEMINI_ENV = ("GEMINI_*", "GOOGLE_GEMINI_BASE_URL")
GEMINI_HOME_DIR = "adw/gemini"
API_ATTEMPTS = 3
"""Gemini CLI's attempts at a failing model API call (its default is 10, over about four
minutes of silence on stdout). Three keep a short blip from failing a long session, and
give up in about 15 s: adw's retry policy, with its backoff and breaker, does the rest."""


class GeminiEngine:
    """One `gemini` process per call, the prompt on its standard input (`-p ""`: the
    CLI takes stdin as the prompt and appends `-p`'s text, here none), so that no prompt
    size meets the limit of one argument and no prompt shows in `ps` (the CLI reads up
    to 8 MiB of stdin, and cuts a longer prompt with a warning). `--approval-mode
    yolo` approves every tool call; `--skip-trust` trusts the worktree for the call (its
    `.gemini/settings.json` and GEMINI.md apply, as a checkout's `.claude` does for
    Claude Code). `AgentRequest.max_turns` is not applied: the CLI has no flag for it
    (only the setting `model.maxSessionTurns`)."""

    name = "gemini"
    resumes_sessions = True  # `--resume SESSION`, in the same working directory
    expands_commands = False

    def __init__(
        self,
        *,
        binary: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
        api_attempts: int = API_ATTEMPTS,
    ) -> None:
        """`prices`: per million input / output tokens by model, to estimate the cost.
        `extra_env` names (or `PREFIX_*` patterns) join the environment allow-list."""
        self._environ = os.environ if environ is None else environ
        self._binary = binary or self._environ.get(PATH_VARIABLE) or "gemini"
        self._prices = prices
        self._extra_env = tuple(extra_env)
        self._kill_grace_s = kill_grace_s
        self._api_attempts = api_attempts

    def check_installed(self) -> str | None:
        if shutil.which(self._binary, path=self._environ.get("PATH")) is not None:
            return None
        return (
            f"Gemini CLI {self._binary!r} not found: install it with "
            f"`npm install -g @google/gemini-cli`, set {PATH_VARIABLE} to its path, "
            "or choose another --engine"
        )

    def environment(self) -> dict[str, str]:
        """The allow-listed environment, plus GEMINI_CLI_HOME when adw keeps the CLI's
        home (see the module docstring); its settings file is written first (an AdwError
        saying what to do when it cannot be)."""
        env = agent_environment(self._environ, (*GEMINI_ENV, *self._extra_env))
        home = adw_gemini_home(self._environ)
        if home is not None:
            try:
                write_settings(home, gemini_settings(env, self._api_attempts))
            except OSError as error:
                raise AdwError(
                    f"cannot write Gemini CLI's settings in {home}: {error.strerror or error}; "
                    "set GEMINI_CLI_HOME to a home of your own, or write ~/.gemini/settings.json"
                ) from error
            env["GEMINI_CLI_HOME"] = str(home)
        return env

    def interactive_resume(self, session_id: str) -> list[str]:
        """Gemini CLI's own interactive session, resumed (`adw attach`); run it in the
        call's working directory, where the CLI keeps its sessions."""
        return [self._binary, "--resume", session_id]

    def command(self, request: AgentRequest) -> list[str]:
        argv = [
            self._binary,
            "--prompt",
            "",
            "--model",
            request.model,
            "--output-format",
            "stream-json",
            "--approval-mode",
            "yolo",
            "--skip-trust",
        ]
        if request.resume_session_id:
            argv += ["--resume", request.resume_session_id]
        return argv

    def run(self, request: AgentRequest, *, on_start: StartHook | None = None) -> AgentStream:
        problem = self.check_installed()
        env: dict[str, str] = {}
        if problem is None:
            try:
                env = self.environment()
            except AdwError as error:
                problem = str(error)
        if problem is not None:
            return _only(
                AgentResult(
                    success=False, error_class=ErrorClass.NOT_INSTALLED, error_message=problem
                )
            )
        return run_cli_agent(
            request,
            self.command(request),
            env,
            GeminiStreamParser(str(request.cwd), self._prices),
            stdin=request.prompt.encode(),
            kill_grace_s=self._kill_grace_s,
            on_start=on_start,
        )


def adw_gemini_home(environ: Mapping[str, str]) -> Path | None:
    """The home adw keeps for Gemini CLI, or None when the user configured the CLI
    (GEMINI_CLI_HOME set, or a `~/.gemini/settings.json`) or there is no HOME."""
    home = environ.get("HOME")
    if environ.get("GEMINI_CLI_HOME") or not home:
        return None
    if (Path(home) / ".gemini" / "settings.json").exists():
        return None
    state = environ.get("XDG_STATE_HOME") or str(Path(home) / ".local" / "state")
    return Path(state) / GEMINI_HOME_DIR


def gemini_settings(env: Mapping[str, str], api_attempts: int) -> dict[str, Any]:
    """The settings adw gives Gemini CLI in its own home; no secret goes in them."""
    settings: dict[str, Any] = {
        "general": {
            "maxAttempts": api_attempts,
            "disableAutoUpdate": True,
            "disableUpdateNag": True,
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        # No `.env` of the worktree or above it (the repository's own, often holding
        # secrets) joins the agent's environment: adw's allow-list decides what it sees.
        "advanced": {"ignoreLocalEnv": True},
    }
    if env.get("GEMINI_API_KEY"):
        settings["security"] = {"auth": {"selectedType": "gemini-api-key"}}
    return settings


def write_settings(home: Path, settings: dict[str, Any]) -> None:
    """Write `<home>/.gemini/settings.json` whole (a temporary file renamed over it), so
    that a call starting meanwhile reads the old file or the new one, never half."""
    folder = home / ".gemini"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "settings.json"
    data = json.dumps(settings, indent=2) + "\n"
    try:
        if path.read_text(encoding="utf-8") == data:
            return
    except OSError:
        pass
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def _only(result: AgentResult) -> AgentStream:
    yield result
