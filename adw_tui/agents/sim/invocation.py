"""What one run of the simulated CLI was asked to do: its flags and environment knobs."""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CLI_VERSION = "2.1.328"
DEFAULT_MODEL = "claude-sonnet-4-5"

# The CLI resolves model aliases to full ids before it reports them in `init`.
MODEL_ALIASES = {
    "sonnet": "claude-sonnet-4-5",
    "opus": "claude-opus-4-5",
    "haiku": "claude-haiku-4-5",
}


@dataclass(frozen=True)
class Invocation:
    """The parsed command line of one run."""

    prompt: str
    cwd: Path
    model: str = DEFAULT_MODEL
    output_format: str = "text"
    verbose: bool = False
    permission_mode: str = "default"
    max_turns: int | None = None
    resume: str | None = None
    mcp_config: str | None = None
    allowed_tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class Knobs:
    """Behaviour set from the environment rather than from flags (tests and demos)."""

    delay: float = 0.0
    faults: str = ""
    state_dir: Path = Path(tempfile.gettempdir()) / "adw-sim"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Knobs":
        env = os.environ if environ is None else environ
        try:
            delay = max(0.0, float(env.get("ADW_SIM_DELAY", "0") or 0))
        except ValueError:
            delay = 0.0
        state_dir = env.get("ADW_SIM_STATE_DIR") or str(
            Path(env.get("TMPDIR") or tempfile.gettempdir()) / "adw-sim"
        )
        return cls(delay=delay, faults=env.get("ADW_SIM_FAULTS", ""), state_dir=Path(state_dir))


def resolve_model(name: str | None) -> str:
    """Turn an alias such as `sonnet` into the model id the CLI would report."""
    if not name:
        return DEFAULT_MODEL
    return MODEL_ALIASES.get(name, name)
