"""Which model an agent step uses: the original ADW's model sets, per engine."""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI's parser imports MODEL_SETS: `adw --version` imports no pydantic
    from adw_tui.config import ModelSetName

# Under the `heavy` set these commands get the stronger model, as in the original ADW.
HEAVY_COMMANDS = frozenset(
    {"implement", "resolve_failed_test", "document", "feature", "bug", "chore", "patch"}
)
MODEL_SETS = ("base", "heavy")


def model_for(command: str, model_set: str, models: "Mapping[ModelSetName, str]") -> str:
    """`command` is the template name without its slash; `models` the engine's model of
    each set (`Settings.model_set`)."""
    if model_set == "heavy" and command in HEAVY_COMMANDS:
        return models["heavy"]
    return models["base"]
