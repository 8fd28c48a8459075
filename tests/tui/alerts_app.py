"""The dashboard on a new sample repository in `sys.argv[1]`, launching runs once it is
up, as `sys.argv[2]` says. tests/tui/test_alerts.py runs it on a pseudo-terminal and
reads the alerts it writes.

- `endings`: a `plan` that succeeds and, once it has, a `plan_build` whose agent fails
  with an auth error at `implement` (a dead letter);
- `breaker`: a `plan` whose classifier is always overloaded, behind a breaker that opens
  at the first failure for a moment: its step waits on the open breaker twice, then the
  run is a dead letter.
"""

import asyncio
import sys
from pathlib import Path

from adw_tui.config import load_settings
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import FAILING_ENGINE_ENV, create_sample_repo
from adw_tui.store import Store
from adw_tui.tui.app import Startup, create_app


async def endings(orchestrator: Orchestrator) -> None:
    store = orchestrator.store
    good = await store.issues.create("Add a slugify helper", "Turn titles into slugs.")
    await orchestrator.wait(await orchestrator.launch(good.number, workflow="plan"))
    bad = await store.issues.create("Add a title helper", "Title-case a string.")
    await orchestrator.launch(bad.number, workflow="plan_build", engine_env=FAILING_ENGINE_ENV)


async def breaker(orchestrator: Orchestrator) -> None:
    issue = await orchestrator.store.issues.create("Add a slugify helper", "Slugs.")
    overloaded = {"ADW_SIM_FAULTS": "classify_issue=overloaded"}
    await orchestrator.launch(issue.number, workflow="plan", engine_env=overloaded)


SCENARIOS: dict[str, tuple[Startup, dict[str, object]]] = {
    "endings": (endings, {}),
    "breaker": (
        breaker,
        {"breaker_failure_threshold": 1, "breaker_cooldown": 0.3, "retry_max_attempts": 3},
    ),
}


async def main(directory: Path, scenario: str) -> None:
    repo = await create_sample_repo(directory)
    startup, overrides = SCENARIOS[scenario]
    settings = load_settings(repo).model_copy(
        update={"engine": "sim", "retry_initial": 0.01, "retry_jitter": 0.0, **overrides}
    )
    async with await Store.open(repo / "agents" / "adw_state.db") as store:
        app = create_app(store, repo, settings, startup=startup)
        try:
            await app.run_async()
        finally:
            await app.close_runtime()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
