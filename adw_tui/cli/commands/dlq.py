"""`adw dlq ls|show|drop|replay`: the dead-letter queue."""

import argparse
import json
from typing import Any

from adw_tui.cli import output
from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.context import CliContext
from adw_tui.cli.listing import Column
from adw_tui.cli.output import key_value_grid, print_json, short_time
from adw_tui.cli.paging import View, print_listing
from adw_tui.domain.models import DeadLetterFilter, DeadLetterStatus, RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.store.dead_letters import ListedLetter


def letter_row(listed: ListedLetter) -> dict[str, Any]:
    """The stable JSON shape of a letter in `adw dlq ls --json`: the letter, its run's issue."""
    return {**listed.letter.model_dump(mode="json"), "issue": listed.issue}


LETTERS = View[ListedLetter](
    noun="dead letter",
    columns=(
        Column("id", 5, right=True, clip=False),
        Column("adw_id", 8, clip=False),
        Column("issue", 6),
        Column("workflow", 16),
        Column("step", 16),
        Column("attempts", 8, right=True),
        Column("status", 8),
        Column("failed at", 19),
        Column("replays", 7, right=True),
        Column("error"),
    ),
    cells=lambda listed: (
        str(listed.letter.id),
        listed.letter.adw_id,
        listed.issue or "",
        listed.letter.workflow,
        listed.letter.step or "",
        str(listed.letter.attempts),
        listed.letter.status,
        short_time(listed.letter.created_at),
        str(len(listed.letter.replays)),
        f"{listed.letter.error_class}: {listed.letter.error_message}",
    ),
    as_json=letter_row,
)


async def list_letters(args: argparse.Namespace, context: CliContext) -> int:
    # `--all` without `--status`: every letter, the replayed and dropped ones too.
    status = args.status or ("any" if args.all else DeadLetterStatus.PENDING)
    selection = DeadLetterFilter(
        status=None if status == "any" else DeadLetterStatus(status),
        error_class=args.error_class,
        workflow=args.workflow,
    )
    filtered = (args.status, args.error_class, args.workflow, args.since) != (None,) * 4
    async with context.existing_store() as store:
        await print_listing(
            args,
            LETTERS,
            store,
            lambda store, limit: store.dead_letters.newest(
                selection, since=args.since, limit=limit
            ),
            lambda store: store.dead_letters.count(selection, since=args.since),
            empty="No dead letters match." if filtered else "The dead-letter queue is empty.",
        )
    return 0


async def show_letter(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        letter = await store.dead_letters.get(args.letter_id)
    if args.json:
        print_json(letter)
        return 0
    rows = [
        ("letter", safe_markup(str(letter.id))),
        ("run", safe_markup(letter.adw_id)),
        ("workflow", safe_markup(letter.workflow)),
        ("step", safe_markup(letter.step or "")),
        ("state version", safe_markup(str(letter.state_version))),
        ("error class", safe_markup(letter.error_class)),
        ("error", safe_markup(letter.error_message)),
        ("attempts", safe_markup(str(letter.attempts))),
        ("status", safe_markup(letter.status)),
        ("created", safe_markup(short_time(letter.created_at))),
        ("resolved", safe_markup(short_time(letter.resolved_at))),
        ("request", safe_markup(json.dumps(letter.request, indent=2, ensure_ascii=False))),
        *(
            (
                f"replay {replay.id}",
                safe_markup(
                    f"{short_time(replay.replayed_at)} from {replay.from_step} "
                    f"(state version {replay.state_version}) by {replay.actor}"
                ),
            )
            for replay in letter.replays
        ),
    ]
    output.console.print(key_value_grid(rows))
    return 0


async def drop_letter(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        letter = await store.dead_letters.drop(args.letter_id, actor="cli")
    output.console.print(
        f"dead letter {letter.id} (run {letter.adw_id}) dropped; it stays in `--all`"
    )
    return 0


async def replay_letters(args: argparse.Namespace, context: CliContext) -> int:
    context.start_logging("interactive")
    from rich.table import Table

    from adw_tui.cli.progress import live_orchestrator  # the runtime: only replays need it

    async with (
        await context.open_store(create=False) as store,
        live_orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        if args.all:
            selection = DeadLetterFilter(error_class=args.error_class, workflow=args.workflow)
            letters = await orchestrator.replay_all(
                selection, from_start=args.from_start, engine=args.engine
            )
        else:
            letters = [await store.dead_letters.get(args.letter_id)]
            await orchestrator.replay(
                args.letter_id, from_start=args.from_start, engine=args.engine
            )
        # A replayed run keeps its adw_id.
        runs = [await orchestrator.wait(letter.adw_id) for letter in letters]
    if not letters:
        output.console.print("No pending dead letters match; nothing to replay.")
        return 0
    table = Table("letter", "adw_id", "workflow", "replayed from", "status now")
    for letter, run in zip(letters, runs, strict=True):
        table.add_row(
            str(letter.id),
            run.adw_id,
            safe_markup(letter.workflow),
            "start" if args.from_start else safe_markup(letter.step or "start"),
            f"[{STATUS_STYLES[run.status]}]{run.status}[/]",
        )
    output.console.print(table)
    return 0 if all(run.status is RunStatus.SUCCEEDED for run in runs) else 1
