"""`adw attach` with the REAL Claude Code binary, on a pseudo-terminal: the session an
agent left in the run's worktree (made here by `claude -p` against the scripted model
API) opens interactively with its conversation, in the worktree; leaving it with
Ctrl-C twice (which adw, in the same process group, must survive) brings the person
back to adw, which records the takeover."""

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pyte
import pytest

from adw_tui.store import Store
from bench.pty_app import PtyChild
from tests.cli.test_stepping_in import ADW, history_and_audit, prepared
from tests.fake_anthropic import FakeAnthropic, Text
from tests.integration.conftest import claude_print_argv, offline_env
from tests.runtime.session_runs import add_claude_session

pytestmark = pytest.mark.slow
COLUMNS, ROWS = 120, 40
ANSWER = "The secret word is PAPAYA."


def trusting_home(home: Path, worktree: Path) -> None:
    """Claude Code's own settings in HOME, as after its first start: onboarding done,
    the test's API key approved, the worktree trusted (else its first screens ask)."""
    home.mkdir()
    settings = {
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "customApiKeyResponses": {"approved": ["sk-test"], "rejected": []},
        "projects": {str(worktree): {"hasTrustDialogAccepted": True}},
    }
    (home / ".claude.json").write_text(json.dumps(settings))


def test_attach_opens_the_agents_session_in_claude_code(
    claude_bin: Path, tmp_path: Path, sample_repo: Path
):
    repo = sample_repo
    adw_id, worktree = asyncio.run(prepared(repo, claude=False))
    home = tmp_path / "home"
    trusting_home(home, worktree)
    with FakeAnthropic([Text(ANSWER)], side_answer=Text("ok")) as api:
        env = offline_env(api.base_url, home)
        done = subprocess.run(
            claude_print_argv(claude_bin, "What is the secret word?"),
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        session = json.loads(done.stdout.splitlines()[-1])["session_id"]

        async def record_session() -> None:
            async with await Store.open(repo / "agents" / "adw_state.db") as store:
                await add_claude_session(store, adw_id, session)

        asyncio.run(record_session())
        ours = [key for key in os.environ if key.startswith("ADW_")]
        child = PtyChild(
            [ADW, "--repo", str(repo), "attach", adw_id],
            cwd=tmp_path,
            env={**env, "CLAUDE_CODE_PATH": str(claude_bin), "PATH": os.environ["PATH"]},
            unset=ours,
            columns=COLUMNS,
            rows=ROWS,
        )
        screen = pyte.Screen(COLUMNS, ROWS)
        stream = pyte.ByteStream(screen)
        seen = ""
        try:
            for chunk in child.output(60, quiet_s=1.0):
                stream.feed(chunk)
                shown = "\n".join(screen.display)
                if not chunk and not seen and ANSWER in shown and str(worktree) in shown:
                    seen = shown
                    child.type(b"\x03")  # Claude Code leaves at a second Ctrl-C soon after
                    time.sleep(0.3)
                    child.type(b"\x03")
        except TimeoutError:
            pytest.fail("still running:\n" + "\n".join(screen.display))
        finally:
            code = child.close()
    assert seen, shown
    assert "What is the secret word?" in seen  # the agent's conversation, resumed
    assert code == 0, "\n".join(screen.display)
    history, audit = asyncio.run(history_and_audit(repo, adw_id))
    assert history[0].startswith("cli: cli took over step review in an interactive claude")
    assert session in history[0]
    assert audit[0] == "run.attach"
