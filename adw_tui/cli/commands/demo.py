"""`adw demo`: a sample repository, five issues, all run at once by the simulated agent."""

import argparse
import tempfile
from pathlib import Path

from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.commands.tui import open_dashboard
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, error_console
from adw_tui.cli.progress import live_orchestrator
from adw_tui.config import Settings, load_settings, process_redactor
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import DEMO_ISSUES, FAILING_ENGINE_ENV, create_sample_repo
from adw_tui.store import Store


async def run_demo(args: argparse.Namespace, context: CliContext) -> int:
    directory = (args.dir or Path(tempfile.mkdtemp(prefix="adw-demo-"))).expanduser().resolve()
    repo = await create_sample_repo(directory)
    settings = load_settings(repo).model_copy(update={"engine": "sim", "retry_initial": 0.2})
    context.start_logging("interactive" if args.headless else "screen", log_dir=repo / "agents")
    if not args.headless:
        return await _demo_dashboard(repo, settings)
    error_console.print(f"sample repository: [bold]{safe_markup(str(repo))}[/]")
    database = repo / "agents" / "adw_state.db"
    async with await Store.open(database, redactor=process_redactor()) as store:
        async with live_orchestrator(store, repo, settings) as orchestrator:
            launched = await launch_demo_issues(store, orchestrator)
            runs = [await orchestrator.wait(adw_id) for adw_id in launched]
        table = Table("issue", "adw_id", "status", "cost", "branch", title="adw demo")
        for demo, run in zip(DEMO_ISSUES, runs, strict=True):
            state = (await store.load(run.adw_id)).state
            table.add_row(
                f"#{run.issue} {safe_markup(demo.title)}",
                run.adw_id,
                f"[{STATUS_STYLES[run.status]}]{run.status}[/]",
                f"${run.cost_usd:.4f}",
                safe_markup(state.branch_name or ""),
            )
        console.print(table)
    console.print(
        f"Look around: [bold]uv run adw --repo {safe_markup(str(repo))} runs[/], "
        f"[bold]show ADW_ID[/], [bold]history ADW_ID[/], [bold]dlq ls[/]"
    )
    expected = [
        RunStatus.DEAD_LETTERED if demo.fails else RunStatus.SUCCEEDED for demo in DEMO_ISSUES
    ]
    return 0 if [run.status for run in runs] == expected else 1


async def launch_demo_issues(store: Store, orchestrator: Orchestrator) -> list[str]:
    """Open the demo's issues and launch an `sdlc` run for each; returns their adw_ids."""
    launched = []
    for demo in DEMO_ISSUES:
        issue = await store.issues.create(demo.title, demo.body)
        launched.append(
            await orchestrator.launch(
                issue.number,
                workflow="sdlc",
                engine="sim",
                engine_env=FAILING_ENGINE_ENV if demo.fails else None,
            )
        )
    return launched


async def _demo_dashboard(repo: Path, settings: Settings) -> int:
    """The dashboard on the sample repository, launching the demo issues once it is up."""
    database = repo / "agents" / "adw_state.db"
    async with await Store.open(database, redactor=process_redactor()) as store:

        async def startup(orchestrator: Orchestrator) -> None:
            await launch_demo_issues(store, orchestrator)

        await open_dashboard(store, repo, settings, startup=startup)
    console.print(
        f"sample repository: [bold]{safe_markup(str(repo))}[/]; look around: "
        f"[bold]uv run adw --repo {safe_markup(str(repo))}[/] (the dashboard again), "
        f"[bold]runs[/], [bold]show ADW_ID[/], [bold]dlq ls[/]"
    )
    return 0
