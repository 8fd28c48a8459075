"""`adw run ISSUE --best-of N`, `adw compare ID...` and `adw choose ID`: several runs of
one issue side by side, compared, and the winner chosen (see `adw_tui.runtime.best_of`)."""

import argparse
from dataclasses import asdict

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.cli.progress import live_orchestrator, recover_and_report
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.best_of import (
    COLUMNS,
    Candidate,
    compare,
    figures,
    group_members,
    launch_group,
)
from adw_tui.runtime.orchestrator import Orchestrator

ACTOR = "cli"


async def run_best_of(args: argparse.Namespace, context: CliContext) -> int:
    """N runs of the issue at once, engines and model sets in turn; then the comparison.
    Exit 0 when at least one succeeded. With --enqueue, the group is queued for the
    fleet's workers instead, and its runs' ids printed."""
    if args.enqueue:
        return await _enqueue_group(args, context)
    context.start_observability("interactive")
    async with (
        await context.open_store() as store,
        live_orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        await recover_and_report(orchestrator, context.settings)
        launched = await _launch(orchestrator, args, fleet_labels=None)
        runs = [await orchestrator.wait(adw_id) for adw_id in launched]
        candidates = await compare(store, context.repo, launched)
    _show(candidates, as_json=args.json)
    if not args.json:
        console.print("Choose the one whose branch goes on: [bold]adw choose ADW_ID[/]")
    return 0 if any(run.status == "succeeded" for run in runs) else 1


async def _launch(
    orchestrator: Orchestrator, args: argparse.Namespace, *, fleet_labels: list[str] | None
) -> list[str]:
    # Engines or model sets named: those are compared. Else, with an experiment on the
    # workflow, its variants side by side, and the choice is what it learns.
    return await launch_group(
        orchestrator,
        args.issue,
        workflow=args.workflow,
        size=args.best_of,
        engines=args.engines or [args.engine],
        model_sets=args.model_sets or [args.model_set],
        try_variants=not (args.engines or args.model_sets),
        fleet_labels=fleet_labels,
    )


async def _enqueue_group(args: argparse.Namespace, context: CliContext) -> int:
    async with (
        await context.open_store() as store,
        Orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        launched = await _launch(orchestrator, args, fleet_labels=args.labels or [])
    if args.json:
        print_json({"queued": launched})
    else:
        console.print(
            f"{', '.join(launched)} queued for the fleet as one best-of group: once they "
            f"end, `adw compare {launched[0]}` compares them and `adw choose ID` picks one"
        )
    return 0


async def compare_runs(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        adw_ids = args.adw_ids
        if len(adw_ids) == 1:  # one run: its whole best-of group
            adw_ids = await group_members(store, adw_ids[0])
        _show(await compare(store, context.repo, adw_ids), as_json=args.json)
    return 0


async def choose_run(args: argparse.Namespace, context: CliContext) -> int:
    """Choose the run whose branch goes on; with a tracker that hosts pull requests, its
    branch is pushed and its pull request opened."""
    async with (
        await context.open_store(create=False) as store,
        Orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        chosen = await orchestrator.choose(args.adw_id, actor=ACTOR)
    others = [adw_id for adw_id in chosen.members if adw_id != args.adw_id]
    console.print(
        f"{args.adw_id} chosen; {', '.join(others) or 'no other run'} marked not chosen (kept)."
    )
    if chosen.published is not None:
        pushed = chosen.published.pushed
        console.print(
            f"Pushed {safe_markup(pushed.branch)} at {pushed.head[:12]}; pull request "
            f"#{chosen.published.pr_number}: {safe_markup(chosen.published.pr_url)}"
        )
    else:
        console.print(f"Not pushed yet: {safe_markup(chosen.held or '')}.")
    return 0


def _show(candidates: list[Candidate], *, as_json: bool) -> None:
    if as_json:
        print_json([asdict(candidate) for candidate in candidates])
        return
    table = Table(*COLUMNS, "chosen", title="Side by side")
    for candidate in candidates:
        chosen = {True: "[green]chosen[/]", False: "not chosen", None: ""}[candidate.chosen]
        table.add_row(*(safe_markup(cell) for cell in figures(candidate)), chosen)
    console.print(table)
