"""Which model an agent step uses: the original ADW's model sets, per engine.

Plain Python, no pydantic: the argument parser imports the set names.
"""

from collections.abc import Mapping
from typing import Literal

ModelSetName = Literal["base", "heavy"]

# Under the `heavy` set these commands get the stronger model, as in the original ADW.
HEAVY_COMMANDS = frozenset(
    {"implement", "resolve_failed_test", "document", "feature", "bug", "chore", "patch"}
)
MODEL_SETS: tuple[ModelSetName, ...] = ("base", "heavy")

# The original ADW's model sets for Claude Code (and the sim, which speaks its aliases);
# for the other engines, a cheaper and a stronger model of their own vendor.
DEFAULT_ENGINE_MODELS: dict[str, dict[ModelSetName, str]] = {
    "claude": {"base": "sonnet", "heavy": "opus"},
    "sim": {"base": "sonnet", "heavy": "opus"},
    "codex": {"base": "gpt-5.1-codex-mini", "heavy": "gpt-5.1-codex"},
    "gemini": {"base": "gemini-2.5-flash", "heavy": "gemini-2.5-pro"},
    "opencode": {"base": "anthropic/claude-sonnet-4-5", "heavy": "anthropic/claude-opus-4-5"},
}


def engine_model_set(
    engine: str, configured: Mapping[str, Mapping[ModelSetName, str]]
) -> dict[ModelSetName, str]:
    """The models of `engine`'s base and heavy sets: the `configured` ones (the setting
    `engine_models`) over the defaults. An engine without defaults of its own (one a test
    registers) gets Claude Code's aliases, as the simulated agent does."""
    defaults = DEFAULT_ENGINE_MODELS.get(engine, DEFAULT_ENGINE_MODELS["claude"])
    return {**defaults, **configured.get(engine, {})}


def model_for(command: str, model_set: str, models: Mapping[ModelSetName, str]) -> str:
    """`command` is the template name without its slash; `models` the engine's model of
    each set (`Settings.model_set`)."""
    if model_set == "heavy" and command in HEAVY_COMMANDS:
        return models["heavy"]
    return models["base"]
