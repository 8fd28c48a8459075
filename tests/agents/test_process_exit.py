"""`process_exit` sees an agent's exit as it happens (its pidfd), not at its next poll."""

import asyncio
import sys
import time
from pathlib import Path

from adw_tui.agents.process import adopt, process_exit
from adw_tui.agents.spawn import spawn_agent


async def test_an_exit_is_seen_at_once_not_at_the_next_poll(tmp_path: Path):
    popen = spawn_agent(
        [sys.executable, "-c", "import time; time.sleep(0.3)"], cwd=tmp_path, env={}
    )
    process = await adopt(popen)
    try:
        started = time.monotonic()
        # A poll every 30 s: only the exit's own notice can end this wait in time.
        code = await asyncio.wait_for(process_exit(process, poll_s=30.0), timeout=20.0)
        assert code == 0
        assert time.monotonic() - started < 10.0
    finally:
        process.close()
