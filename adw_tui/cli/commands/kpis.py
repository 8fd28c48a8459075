"""`adw kpis`: per workflow and model set, and per issue class, how often runs succeed
(with a 95% interval), what a success costs in agent calls, dollars and time; and the
steps that fail most."""

import argparse
from dataclasses import asdict

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.errors import DatabaseMissingError
from adw_tui.domain.kpis import FIGURE_LABELS, Kpi, RunOutcome, StepFailures, figures, summarise
from adw_tui.domain.sanitize import safe_markup


async def show_kpis(args: argparse.Namespace, context: CliContext) -> int:
    try:
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        outcomes: list[RunOutcome] = []
        failures: list[StepFailures] = []
    else:
        async with store:
            outcomes = await store.run_outcomes(since=args.since, workflow=args.workflow)
            failures = await store.step_failures(since=args.since, workflow=args.workflow)
    by_workflow = summarise(outcomes, lambda run: (run.workflow, run.model_set))
    by_class = summarise(outcomes, lambda run: (run.issue_class or "unclassified",))
    if args.json:
        print_json(
            {
                "since": args.since.isoformat() if args.since else None,
                "runs": len(outcomes),
                "by_workflow": [_kpi_json(kpi, ("workflow", "model_set")) for kpi in by_workflow],
                "by_issue_class": [_kpi_json(kpi, ("issue_class",)) for kpi in by_class],
                "failing_steps": [asdict(failure) for failure in failures],
            }
        )
        return 0
    if not outcomes:
        console.print("No runs recorded" + (" in that time." if args.since else " yet."))
        return 0
    console.print(_kpi_table("workflow", "set", rows=by_workflow, title="By workflow"))
    console.print(_kpi_table("issue class", rows=by_class, title="By issue class"))
    console.print(
        "[dim]ok: succeeded of decided (succeeded, failed, dead-lettered) runs; 95%: the "
        "success rate's Wilson interval; calls and $ per success; p50/p95: run duration[/]"
    )
    if failures:
        console.print(_failures_table(failures))
    return 0


def _kpi_json(kpi: Kpi, names: tuple[str, ...]) -> dict[str, object]:
    values = asdict(kpi)
    del values["group"]
    return {**dict(zip(names, kpi.group, strict=True)), **values, "success_rate": kpi.success_rate}


def _kpi_table(*group_columns: str, rows: list[Kpi], title: str) -> Table:
    table = Table(*group_columns, title=title)
    for column in (*FIGURE_LABELS, "tokens"):
        table.add_column(column, justify="right", no_wrap=True)
    for kpi in rows:
        table.add_row(*(safe_markup(part) for part in kpi.group), *figures(kpi), f"{kpi.tokens:,}")
    return table


def _failures_table(failures: list[StepFailures]) -> Table:
    table = Table("workflow", "step", "error class", "failed attempts", title="Steps failing most")
    for failure in failures:
        table.add_row(
            safe_markup(failure.workflow),
            safe_markup(failure.step),
            safe_markup(failure.error_class),
            str(failure.failures),
        )
    return table
