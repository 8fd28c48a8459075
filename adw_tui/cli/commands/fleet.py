"""The fleet from the command line: `adw run --enqueue` queues a run for the workers,
`adw worker` runs them, `adw workers` lists the workers (see `adw_tui.runtime.worker`)."""

import argparse
import asyncio

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, error_console, print_json
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.clock import utc_now
from adw_tui.domain.fleet import WORKER_COLUMNS, WorkerAbilities, worker_figures
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.worker import Worker, WorkerSpec, default_worker_name

STATE_MARKUP = {"working": "[green]working[/]", "silent": "[red]silent[/]"}


async def enqueue_run(args: argparse.Namespace, context: CliContext) -> int:
    """Create the run, queued for the fleet; print its adw_id (JSON with --json)."""
    async with (
        await context.open_store() as store,
        Orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        adw_id = await orchestrator.launch(
            args.issue,
            workflow=args.workflow,
            engine=args.engine,
            model_set=args.model_set,
            force=args.force,
            fleet_labels=args.labels or [],
        )
        run = await store.get_run(adw_id)
    if args.json:
        print_json(run.model_dump(mode="json"))
    else:
        console.print(f"{adw_id} queued for the fleet: a worker (`adw worker`) will run it")
    return 0


async def run_worker(args: argparse.Namespace, context: CliContext) -> int:
    """Take and run queued runs until SIGINT or SIGTERM; the runs still going then get
    the shutdown grace to finish their step, and are stopped as interrupted, for another
    worker (or this one, restarted) to resume."""
    settings = context.settings
    slots = args.slots or settings.max_concurrent
    spec = WorkerSpec(
        name=args.name or default_worker_name(),
        slots=slots,
        abilities=WorkerAbilities(
            engines=frozenset(args.engines) if args.engines else None,
            labels=frozenset(args.labels or ()),
        ),
    )
    context.start_observability("daemon")
    stop = asyncio.Event()

    async def stop_taking() -> None:
        stop.set()

    error_console.print(
        f"worker {safe_markup(spec.name)}: {slots} slots, engines "
        f"{', '.join(sorted(args.engines)) if args.engines else 'any'}, labels "
        f"{', '.join(sorted(spec.abilities.labels)) or 'none'}"
    )
    async with (
        await context.open_store() as store,
        live_orchestrator(
            store,
            context.repo,
            settings.model_copy(update={"max_concurrent": slots}),
            before_close=stop_taking,
        ) as orchestrator,
    ):
        worker = Worker(orchestrator, spec)
        await worker.run(stop)
    error_console.print(
        f"worker {safe_markup(spec.name)} stopped; it took {len(worker.taken)} runs"
    )
    return 0


async def list_workers(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store() as store:
        workers = await store.fleet.workers()
        queued = await store.fleet.queued()
    if args.json:
        print_json(
            {"queued": queued, "workers": [worker.model_dump(mode="json") for worker in workers]}
        )
        return 0
    now = utc_now()
    table = Table(*WORKER_COLUMNS, title=f"Workers ({queued} runs waiting for one)")
    for worker in workers:
        *cells, state = (safe_markup(cell) for cell in worker_figures(worker, now))
        table.add_row(*cells, STATE_MARKUP.get(state, state))
    console.print(table)
    return 0
