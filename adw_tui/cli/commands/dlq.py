"""`adw dlq ls|show|drop`: the dead-letter queue."""

import argparse
import json

from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, key_value_grid, print_json, short_time
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.errors import DatabaseMissingError
from adw_tui.domain.models import DeadLetter, DeadLetterFilter, RunStatus
from adw_tui.domain.sanitize import safe_markup


async def list_letters(args: argparse.Namespace, context: CliContext) -> int:
    try:
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        letters: list[DeadLetter] = []
    else:
        async with store:
            letters = await store.dead_letters.list(include_resolved=args.all)
            issues = {
                letter.adw_id: (await store.get_run(letter.adw_id)).issue for letter in letters
            }
    if args.json:
        print_json(
            [
                {**letter.model_dump(mode="json"), "issue": issues[letter.adw_id]}
                for letter in letters
            ]
        )
        return 0
    if not letters:
        console.print("The dead-letter queue is empty.")
        return 0
    table = Table(
        "id",
        "adw_id",
        "issue",
        "workflow",
        "step",
        "error",
        "attempts",
        "status",
        "failed at",
        "replays",
    )
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.adw_id,
            safe_markup(issues[letter.adw_id] or ""),
            safe_markup(letter.workflow),
            safe_markup(letter.step or ""),
            safe_markup(f"{letter.error_class}: {letter.error_message}"),
            str(letter.attempts),
            letter.status,
            short_time(letter.created_at),
            str(len(letter.replays)),
        )
    console.print(table)
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
    console.print(key_value_grid(rows))
    return 0


async def drop_letter(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        letter = await store.dead_letters.drop(args.letter_id, actor="cli")
    console.print(f"dead letter {letter.id} (run {letter.adw_id}) dropped; it stays in `--all`")
    return 0


async def replay_letters(args: argparse.Namespace, context: CliContext) -> int:
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
        console.print("No pending dead letters match; nothing to replay.")
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
    console.print(table)
    return 0 if all(run.status is RunStatus.SUCCEEDED for run in runs) else 1
