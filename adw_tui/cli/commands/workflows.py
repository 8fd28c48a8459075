"""`adw workflows [show NAME]`: the workflows a run can use, and one workflow's graph."""

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_error, print_json
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import safe_markup
from adw_tui.domain.workflow import StepDef
from adw_tui.workflows.graph import step_details
from adw_tui.workflows.loader import (
    BUILTIN_SOURCE,
    LoadedWorkflow,
    WorkflowError,
    load_workflows_report,
    select_workflow,
)


async def list_workflows(args: argparse.Namespace, context: CliContext) -> int:
    """Every workflow that loads; the files that do not are listed after, and exit 1."""
    workflows, errors = load_workflows_report(_repo(context))
    if args.json:
        print_json([_summary(loaded) for loaded in workflows.values()])
    else:
        table = Table()
        table.add_column("name", no_wrap=True)
        table.add_column("description")
        table.add_column("source", no_wrap=True)  # a path stays whole, to be copied
        table.add_column("states", justify="right")
        for loaded in workflows.values():
            row = _summary(loaded)
            table.add_row(
                safe_markup(row["name"]),
                safe_markup(row["description"]),
                safe_markup(row["source"]),
                str(row["states"]),
            )
        console.print(table)
    _print_errors(errors)
    return 1 if errors else 0


async def show_workflow(args: argparse.Namespace, context: CliContext) -> int:
    workflows, errors = load_workflows_report(_repo(context))
    if args.name not in workflows:
        _print_errors(errors)  # the file that would have defined it may be among them
    loaded = select_workflow(args.name, workflows)
    if args.json:
        print_json(
            {
                "source": _source(loaded),
                **loaded.definition.model_dump(mode="json", exclude_defaults=True),
            }
        )
        return 0
    for line in graph_lines(loaded):
        console.print(line, markup=False, highlight=False)
    return 0


def graph_lines(loaded: LoadedWorkflow) -> list[str]:
    """The workflow as text: a header, then each state with what it runs and where it goes
    next. The start state is marked `▶ ... (start)`, terminal states `■ ... (terminal)`."""
    workflow = loaded.definition
    lines = [
        f"{workflow.name}: {workflow.description}" if workflow.description else workflow.name,
        f"source: {_source(loaded)}, {len(workflow.states)} states, start: {workflow.first_state}",
    ]
    for name, step in workflow.states.items():
        lines.append("")
        lines.extend(_state_lines(name, step, start=name == workflow.first_state))
    return lines


def _state_lines(name: str, step: StepDef, *, start: bool) -> list[str]:
    marks = [mark for mark, on in (("start", start), ("terminal", step.terminal)) if on]
    symbol = "▶" if start else "■" if step.terminal else "•"
    head = f"{symbol} {name}" + (f" ({', '.join(marks)})" if marks else "")
    lines = [head]
    if step.description:
        lines.append(f"    {step.description}")
    if step.command is not None:
        lines.append(f"    command: {' '.join([step.command, *step.args])}")
    if step.action is not None:
        lines.append(f"    action: {step.action}")
    details = step_details(step)
    if details:
        lines.append(f"    {', '.join(details)}")
    lines.extend(f"    {field} → {target}" for field, target in step.transitions().items())
    return lines


def _summary(loaded: LoadedWorkflow) -> dict[str, Any]:
    workflow = loaded.definition
    return {
        "name": workflow.name,
        "description": workflow.description,
        "source": _source(loaded),
        "states": len(workflow.states),
        "start": workflow.first_state,
    }


def _source(loaded: LoadedWorkflow) -> str:
    return BUILTIN_SOURCE if loaded.builtin else loaded.source


def _print_errors(errors: list[WorkflowError]) -> None:
    for error in errors:
        print_error(str(error))


def _repo(context: CliContext) -> Path | None:
    """The repository whose `.adw/workflows` count; outside one, the built-ins alone (an
    explicit `--repo` that does not exist is still an error)."""
    try:
        return context.repo
    except AdwError:
        if context.repo_option is not None:
            raise
        return None
