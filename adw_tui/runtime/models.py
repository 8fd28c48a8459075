"""Which model an agent step uses: the original ADW's model sets."""

BASE_MODEL = "sonnet"
HEAVY_MODEL = "opus"
# Under the `heavy` set these commands get the stronger model, as in the original ADW.
HEAVY_COMMANDS = frozenset(
    {"implement", "resolve_failed_test", "document", "feature", "bug", "chore", "patch"}
)
MODEL_SETS = ("base", "heavy")


def model_for(command: str, model_set: str) -> str:
    """`command` is the template name without its slash."""
    if model_set == "heavy" and command in HEAVY_COMMANDS:
        return HEAVY_MODEL
    return BASE_MODEL
