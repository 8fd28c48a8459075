"""`adw runs` and `adw history`: the runs, and a run's state versions, newest first.

Plain fixed-width lines (`adw_tui.cli.listing`), no rich: these are the commands people
run most, and their start is most of their time.
"""

import argparse
from typing import Any

from adw_tui.cli.context import CliContext
from adw_tui.cli.listing import Column, Styled
from adw_tui.cli.output import short_time
from adw_tui.cli.paging import View, print_listing
from adw_tui.domain.models import RunRecord, RunStatus, VersionInfo

STATUS_STYLES = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
    RunStatus.DEAD_LETTERED: "magenta",
    RunStatus.CANCELLED: "yellow",
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.PAUSED: "yellow",
}


def run_row(run: RunRecord) -> dict[str, Any]:
    """The stable JSON shape of a run in `adw runs --json` and `adw show --json`."""
    return {
        "adw_id": run.adw_id,
        "issue": run.issue,
        "workflow": run.workflow,
        "status": run.status.value,
        "step": run.current_step,
        "version": run.version,
        "cost_usd": run.cost_usd,
        "updated_at": run.updated_at.isoformat(),
    }


RUNS = View[RunRecord](
    noun="run",
    columns=(
        Column("adw_id", 8, clip=False),
        Column("issue", 6),
        Column("workflow", 16),
        Column("status", 13),
        Column("step", 16),
        Column("version", 7, right=True),
        Column("cost", 9, right=True),
        Column("updated", 19),
    ),
    cells=lambda run: (
        run.adw_id,
        run.issue or "",
        run.workflow,
        Styled(run.status, STATUS_STYLES[run.status]),
        run.current_step or "",
        str(run.version),
        f"${run.cost_usd:.4f}",
        short_time(run.updated_at),
    ),
    as_json=run_row,
)


async def list_runs(args: argparse.Namespace, context: CliContext) -> int:
    status = None if args.status is None else RunStatus(args.status)
    filtered = (status, args.workflow, args.since) != (None, None, None)
    async with context.existing_store() as store:
        await print_listing(
            args,
            RUNS,
            store,
            lambda store, limit: store.newest_runs(
                status=status, workflow=args.workflow, since=args.since, limit=limit
            ),
            lambda store: store.count_runs(status=status, workflow=args.workflow, since=args.since),
            empty="No runs match." if filtered else f"No runs yet in {context.db_path}.",
        )
    return 0


VERSIONS = View[VersionInfo](
    noun="version",
    columns=(
        Column("version", 7, right=True),
        Column("parent", 6, right=True),
        Column("created", 19),
        Column("actor", 24),
        Column("git head", 12),
        Column("reason"),
    ),
    cells=lambda info: (
        str(info.version),
        "" if info.parent is None else str(info.parent),
        short_time(info.created_at),
        info.actor,
        (info.git_head or "")[:12],
        info.reason,
    ),
    as_json=lambda info: info,
)


async def show_history(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        await print_listing(
            args,
            VERSIONS,
            store,
            lambda store, limit: store.newest_versions(args.adw_id, since=args.since, limit=limit),
            lambda store: store.count_versions(args.adw_id, since=args.since),
            empty=f"No versions of run {args.adw_id} since {args.since}.",
        )
    return 0
