"""The workflows: every workflow the repository can run (its own `.adw/workflows/` files
and the built-ins), each drawn as a graph of its states and transitions.

A file that does not load is listed with its error instead of its description, so a
workflow being written can be fixed here: edit it, press `r`.
"""

from pathlib import Path, PurePosixPath
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from adw_tui.tui.notify import notify_text
from adw_tui.tui.screens.base import AdwScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.workflow_graph import WorkflowGraph
from adw_tui.workflows.loader import (
    LoadedWorkflow,
    WorkflowError,
    load_workflows_report,
)

BUILTIN_ROOT = PurePosixPath(*LoadedWorkflow.__module__.split(".")[:-1])
"""Where the built-ins' sources (`builtin/<file>`) are, from the top of the checkout."""
ERROR_ID = "error-{}"
"""The option id of the n-th file that does not load (workflow names have no `-`)."""


def source_path(loaded: LoadedWorkflow) -> str:
    """The workflow's file: relative to the repository, or for a built-in to the adw
    checkout (`adw_tui/workflows/builtin/sdlc.yaml`)."""
    return str(BUILTIN_ROOT / loaded.source) if loaded.builtin else loaded.source


class WorkflowList(OptionList):
    """The workflows by name, then the files that do not load."""

    HELP = """\
## Workflows

Every workflow a run can use, by name, with its description; `repository` marks the
repository's own (`.adw/workflows/*.yaml`, replacing a built-in of the same name).
A file that does not load is listed last (⚠), with its error.

- `up`/`down` or a click shows a workflow's graph on the right; `tab` moves there to
  scroll it (or scroll it with the mouse wheel).
- `l` launches a run of the highlighted workflow.
"""


class WorkflowsScreen(AdwScreen):
    """Every workflow, and the graph of the highlighted one."""

    HELP = """\
## Workflows

The workflows of this repository: its own files in `.adw/workflows/` and the
built-ins. The highlighted one is drawn on the right, with its description and file.

- `l` opens the launch dialog with this workflow chosen.
- `r` reads the workflow files again (after editing one).
- `escape` goes back.

To change a built-in, copy its file to `.adw/workflows/` and edit it there.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="workflows.back"),
        Binding("l", "launch", "Launch", id="workflows.launch"),
        Binding("r", "reload", "Reload", id="workflows.reload"),
    ]

    class LaunchRequested(Message):
        """Launch a run of `workflow`: the app opens the launch dialog with it chosen."""

        def __init__(self, workflow: str) -> None:
            super().__init__()
            self.workflow = workflow

    def __init__(self, repo: Path | None) -> None:
        super().__init__(id="workflows")
        self._repo = repo
        self._workflows: dict[str, LoadedWorkflow] = {}
        self._errors: dict[str, WorkflowError] = {}
        self.sub_title = "workflows"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="workflows-body"):
            yield WorkflowList(id="workflows-list", classes="framed")
            with Vertical(id="workflows-detail"):
                yield Static(id="workflows-about", classes="bar")
                yield WorkflowGraph(id="workflows-graph", classes="detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(WorkflowList).border_title = "workflows"
        self.query_one(WorkflowGraph).border_title = "graph"
        self.reload()
        self.query_one(WorkflowList).focus()

    @property
    def highlighted(self) -> LoadedWorkflow | WorkflowError | None:
        """The workflow under the list's cursor, or the error of a file that does not load."""
        workflow_list = self.query_one(WorkflowList)
        if workflow_list.highlighted is None:
            return None
        key = workflow_list.get_option_at_index(workflow_list.highlighted).id or ""
        return self._workflows.get(key) or self._errors.get(key)

    def reload(self) -> None:
        """Read the workflow files again; the cursor stays on the workflow it was on."""
        kept = self.highlighted
        workflows, errors = load_workflows_report(self._repo)
        self._workflows = workflows
        self._errors = {ERROR_ID.format(n): error for n, error in enumerate(errors)}
        options = [Option(self._prompt(loaded), id=name) for name, loaded in workflows.items()]
        options += [Option(self._error_prompt(e), id=key) for key, e in self._errors.items()]
        workflow_list = self.query_one(WorkflowList)
        workflow_list.set_options(options)
        names = list(workflows)
        if isinstance(kept, LoadedWorkflow) and kept.name in workflows:
            workflow_list.highlighted = names.index(kept.name)
        else:
            workflow_list.highlighted = 0 if options else None
        self._show()

    def _prompt(self, loaded: LoadedWorkflow) -> Content:
        description = loaded.definition.description
        return Content.assemble(
            (loaded.name, "bold"),
            ("" if loaded.builtin else "  repository", "$accent"),
            *(("\n", (description, "$text-muted")) if description else ()),
        )

    def _error_prompt(self, error: WorkflowError) -> Content:
        return Content.assemble(
            (f"⚠ {error.source}", "bold $error"), "\n", (error.problem, "$error")
        )

    @on(OptionList.OptionHighlighted, "#workflows-list")
    def _highlighted(self) -> None:
        self._show()

    def _show(self) -> None:
        """The highlighted workflow's description, file and graph; or a file's error."""
        shown = self.highlighted
        about: Content
        if isinstance(shown, LoadedWorkflow):
            workflow = shown.definition
            about = Content.assemble(
                (workflow.name, "bold"),
                f"  {workflow.description}" if workflow.description else "",
                "\n",
                (
                    f"{source_path(shown)} · {len(workflow.states)} states · "
                    f"start: {workflow.first_state}",
                    "$text-muted",
                ),
            )
        elif isinstance(shown, WorkflowError):
            about = Content.assemble(
                (f"{shown.source} does not load", "bold $error"), "\n", (shown.problem, "$error")
            )
        else:
            about = Content.styled("no workflow", "$text-muted")
        self.query_one("#workflows-about", Static).update(about)
        definition = shown.definition if isinstance(shown, LoadedWorkflow) else None
        self.query_one(WorkflowGraph).workflow = definition

    # Actions

    def action_reload(self) -> None:
        self.reload()
        problems = f", {len(self._errors)} with errors" if self._errors else ""
        notify_text(self, f"{len(self._workflows)} workflows read{problems}", timeout=2)

    def action_launch(self) -> None:
        shown = self.highlighted
        if isinstance(shown, LoadedWorkflow):
            self.post_message(self.LaunchRequested(shown.name))
        elif isinstance(shown, WorkflowError):
            notify_text(
                self,
                f"{shown.source} does not load: fix it first (r reads it again)",
                severity="warning",
                timeout=4,
            )
