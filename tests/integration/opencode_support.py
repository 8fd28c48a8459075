"""The real OpenCode binary, and an offline environment pointing it at a loopback
`FakeChatCompletions` server.

The binary comes from `ADW_OPENCODE_PATH` (`.ci/run` installs it into `.ci/node/` and sets
it), else from that project-local install, else `opencode` on PATH. Without one the tests
that need it are skipped, or fail when `CI` is set: CI must never pass by skipping them.
"""

import json
import os
from pathlib import Path

import pytest

from tests.integration.conftest import PROJECT_ROOT
from tests.integration.real_clis import find_cli, usable_cli

LOCAL_INSTALL = PROJECT_ROOT / ".ci/node/node_modules/.bin/opencode"
MODEL = "fake/fake-model"
PRICED_MODEL = "fake/fake-priced"
"""A model OpenCode has prices for (from the provider config): it reports a cost."""
PRICED_COST = {"input": 3.0, "output": 15.0}
KEY_VARIABLE = "FAKE_PROVIDER_KEY"
KEY = "sk-fake-opencode"
AGENT_ENV = [KEY_VARIABLE, "npm_config_offline"]
"""What the engine must let through in these tests (`extra_env`, `agent_env`): the key,
and npm's offline switch, which stops OpenCode's background install of its plugin
package into its config directory (it fetches from registry.npmjs.org otherwise)."""


def find_opencode() -> tuple[Path | None, str]:
    """The binary to test and where it came from, or None and why there is none."""
    return find_cli(
        "ADW_OPENCODE_PATH",
        "opencode",
        LOCAL_INSTALL,
        "no OpenCode binary: set ADW_OPENCODE_PATH, run .ci/run (it installs opencode-ai "
        "into .ci/node/), or put `opencode` on PATH",
    )


@pytest.fixture(scope="session")
def opencode_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `opencode` binary, checked with `--version`; skipped (failed under CI) if
    absent."""
    return usable_cli(
        find_opencode(), "OpenCode CLI", lambda out: bool(out.strip()), tmp_path_factory
    )


def provider_config(base_url: str) -> str:
    """OpenCode config (JSON) with one provider, `fake`, at `base_url`: its key is read
    from `KEY_VARIABLE` (`{env:...}`), so the config holds no secret."""
    models = {
        "fake-model": {"name": "Fake Model", "limit": {"context": 128000, "output": 8192}},
        "fake-priced": {
            "name": "Fake Priced",
            "cost": PRICED_COST,
            "limit": {"context": 128000, "output": 8192},
        },
    }
    provider = {
        "npm": "@ai-sdk/openai-compatible",
        "name": "Fake loopback",
        "options": {"baseURL": base_url, "apiKey": f"{{env:{KEY_VARIABLE}}}"},
        "models": models,
    }
    return json.dumps(
        {"$schema": "https://opencode.ai/config.json", "provider": {"fake": provider}}
    )


def opencode_env(base_url: str, home: Path, binary: Path) -> dict[str, str]:
    """A whole environment (nothing inherited but PATH) for the engine: HOME keeps the
    real ~/.config/opencode and ~/.local/share/opencode out of the test, the provider
    comes from `OPENCODE_CONFIG_CONTENT` (no file in the repository), and the models
    catalogue is not fetched. The engine lets `AGENT_ENV` through only when asked
    (`extra_env`)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        # Set, so that a host's own XDG_* (which the engine lets through) are not used.
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "ADW_OPENCODE_PATH": str(binary),
        "OPENCODE_CONFIG_CONTENT": provider_config(base_url),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "npm_config_offline": "true",
        KEY_VARIABLE: KEY,
    }
