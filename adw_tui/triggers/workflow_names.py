"""The workflows a trigger may start: built-in and the repository's, read once at start."""

from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.workflows.loader import load_workflows_report


def trigger_workflows(repo: Path, default: str | None) -> frozenset[str]:
    """The names of the workflows that load (a broken repository file is left out, as a
    launch would); an error when `default` names none of them."""
    workflows, _ = load_workflows_report(repo)
    names = frozenset(workflows)
    if default is not None and default not in names:
        raise AdwError(
            f"ADW_WEBHOOK_DEFAULT_WORKFLOW={default} names no workflow; known workflows: "
            f"{', '.join(sorted(names))}"
        )
    return names
