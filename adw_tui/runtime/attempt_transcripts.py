"""Each step attempt keeps its own agent transcript.

An agent's `raw_output.jsonl` holds its latest call only: the next call of the same
agent (a retry, a loop back to the step, another step with that agent) starts a new
file. So that no call's stream is lost, the runtime hard-links the file as
`attempts/<attempt id>.jsonl` beside it as soon as the agent has started: both names
are one file while the agent writes, and the attempt's name keeps it after
`raw_output.jsonl` moves on (the runner unlinks the old file, never truncates it).
"""

import logging
import os
from pathlib import Path

from adw_tui.agents.runner import RAW_OUTPUT_FILE

logger = logging.getLogger(__name__)

ATTEMPTS_DIR = "attempts"


def attempt_transcript(run_dir: Path, attempt_id: int) -> Path:
    """Where step attempt `attempt_id`'s transcript is kept, in its agent's `run_dir`."""
    return run_dir / ATTEMPTS_DIR / f"{attempt_id}.jsonl"


def keep_attempt_transcript(run_dir: Path, attempt_id: int) -> None:
    """Link the agent's just-started `raw_output.jsonl` as the attempt's transcript.

    Where hard links cannot be made, the attempt has no file of its own and only the
    agent's latest call stays readable; the call itself goes on.
    """
    kept = attempt_transcript(run_dir, attempt_id)
    try:
        kept.parent.mkdir(exist_ok=True)
        os.link(run_dir / RAW_OUTPUT_FILE, kept)
    except OSError as error:
        logger.warning("cannot keep the transcript of step attempt %s: %s", attempt_id, error)
