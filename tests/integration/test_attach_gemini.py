"""`adw attach` with the REAL Gemini CLI, on a pseudo-terminal: the session a gemini
agent left in the run's worktree (made here by GeminiEngine against the scripted model
API, in the home adw keeps for the CLI) opens interactively with its conversation; the
CLI asks the person whether to trust the worktree; leaving it with Ctrl-C twice brings the
person back to adw, which records the takeover."""

import asyncio
import os
import re
import time
from pathlib import Path

import pyte
import pytest

from adw_tui.agents.gemini import GeminiEngine
from adw_tui.domain.agent import AgentRequest, AgentResult
from adw_tui.domain.steps import StepStatus
from adw_tui.store import Store
from bench.pty_app import PtyChild
from tests.cli.test_stepping_in import ADW, history_and_audit, prepared
from tests.fake_gemini import FakeGemini, Text
from tests.integration.conftest import GEMINI_MODEL, gemini_env

pytestmark = pytest.mark.slow
COLUMNS, ROWS = 120, 40
ANSWER = "The secret word is PAPAYA."
# Sequences pyte cannot parse (xterm's modifyOtherKeys, `CSI > 4 ; 2 m`): left out.
_PRIVATE_SGR = re.compile(rb"\x1b\[[?<>=][0-9;:?]*m")


def screen_of(output: bytes) -> str:
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(_PRIVATE_SGR.sub(b"", output))
    return "\n".join(screen.display)


async def agent_session(engine: GeminiEngine, worktree: Path, output_dir: Path) -> str:
    """The session of one headless call in `worktree` (what a step of the run leaves)."""
    request = AgentRequest(
        prompt="What is the secret word?",
        adw_id="a1b2c3d4",
        agent_name="reviewer",
        model=GEMINI_MODEL,
        cwd=worktree,
        output_dir=output_dir,
        timeout_s=60,
    )
    results = [item async for item in engine.run(request) if isinstance(item, AgentResult)]
    assert results[-1].success, results
    assert results[-1].session_id
    return results[-1].session_id


async def record_session(repo: Path, adw_id: str, session: str) -> None:
    async with await Store.open(repo / "agents" / "adw_state.db") as store:
        attempt = await store.steps.start(
            adw_id, "review", visit=1, attempt=1, agent="reviewer", engine="gemini"
        )
        result = AgentResult(success=True, session_id=session)
        await store.steps.finish(attempt, StepStatus.SUCCEEDED, result=result)


def test_attach_opens_the_agents_session_in_gemini_cli(
    gemini_bin: Path, tmp_path: Path, sample_repo: Path
):
    repo = sample_repo
    adw_id, worktree = asyncio.run(prepared(repo, claude=False))
    home = tmp_path / "home"
    home.mkdir()
    with FakeGemini([Text(ANSWER)]) as api:
        env = gemini_env(api.base_url, home, ADW_GEMINI_PATH=str(gemini_bin))
        engine = GeminiEngine(environ=env)
        session = asyncio.run(agent_session(engine, worktree, tmp_path / "agents"))
        asyncio.run(record_session(repo, adw_id, session))

        ours = [key for key in os.environ if key.startswith(("ADW_", "GEMINI_"))]
        child = PtyChild(
            [ADW, "--repo", str(repo), "attach", adw_id],
            cwd=tmp_path,
            env=env,
            unset=ours,
            columns=COLUMNS,
            rows=ROWS,
        )
        output, seen = b"", ""
        try:
            for chunk in child.output(90, quiet_s=1.0):
                output += chunk
                shown = screen_of(output) if not chunk and not seen else ""
                if ANSWER in shown and "Do you trust the files in this folder?" in shown:
                    seen = shown
                    child.type(b"\x1b[B\x1b[B\r")  # 3. Don't trust
                    time.sleep(1.0)
                    child.type(b"\x03")  # Gemini CLI leaves at a second Ctrl-C
                    time.sleep(0.3)
                    child.type(b"\x03")
        except TimeoutError:
            pytest.fail("still running:\n" + screen_of(output))
        finally:
            code = child.close()
    assert seen, screen_of(output)
    assert "What is the secret word?" in seen  # the agent's conversation, resumed
    assert code == 0, screen_of(output)
    history, audit = asyncio.run(history_and_audit(repo, adw_id))
    assert history[0].startswith("cli: cli took over step review in an interactive gemini")
    assert session in history[0]
    assert audit[0] == "run.attach"
