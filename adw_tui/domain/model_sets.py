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


def model_for(command: str, model_set: str, models: Mapping[ModelSetName, str]) -> str:
    """`command` is the template name without its slash; `models` the engine's model of
    each set (`Settings.model_set`)."""
    if model_set == "heavy" and command in HEAVY_COMMANDS:
        return models["heavy"]
    return models["base"]
