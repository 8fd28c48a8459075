"""An experiment on real simulated runs: each new run of its workflow takes a variant,
recorded in its state, and Thompson sampling moves traffic off a variant whose agent
fails (the simulated agent's faults); a broken experiments file stops the launch with a
message naming it."""

import random
from pathlib import Path

import pytest

from adw_tui.config import load_settings
from adw_tui.domain.errors import AdwError
from adw_tui.runtime.experiments import EXPERIMENTS_FILE, Experiments
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store

CLASSIFY = (
    "name: classify_only\nstates:\n"
    "  classify:\n    command: /classify_issue\n    agent: issue_classifier\n"
    '    args: ["${issue_json}"]\n    output: classification\n    save: issue_class\n'
    "    on_success: complete\n"
    "  complete: {terminal: true}\n"
    "  dead_letter: {terminal: true, action: record_failure}\n"
)
EXPERIMENT = """
experiments:
  - name: steadiness
    workflow: classify_only
    variants:
      - {name: steady}
      - {name: flaky, env: {ADW_SIM_FAULTS: "classify_issue=fail_always"}}
"""


async def test_traffic_moves_off_the_variant_that_fails(repo: Path, store: Store) -> None:
    (repo / ".adw" / "workflows").mkdir(parents=True)
    (repo / ".adw" / "workflows" / "classify_only.yaml").write_text(CLASSIFY)
    (repo / EXPERIMENTS_FILE).write_text(EXPERIMENT)
    settings = load_settings(repo).model_copy(update={"engine": "sim", "retry_max_attempts": 1})
    runs = 16
    async with Orchestrator(store, repo, settings) as orchestrator:
        orchestrator.experiments = Experiments(repo, random.Random(3))
        given = []
        for number in range(runs):
            issue = await store.issues.create(f"Feature {number}", "x")
            adw_id = await orchestrator.launch(issue.number, workflow="classify_only")
            await orchestrator.wait(adw_id)
            experiment = (await store.load(adw_id)).state.as_data()["experiment"]
            assert experiment["name"] == "steadiness"
            assert set(experiment["draws"]) == {"steady", "flaky"}
            given.append(experiment["variant"])
    decided = await store.experiment_runs("steadiness")
    assert all(run.succeeded for run in decided if run.variant == "steady")
    flaky = [run for run in decided if run.variant == "flaky"]
    assert flaky  # it was tried
    assert not any(run.succeeded for run in flaky)
    assert given[runs // 2 :].count("steady") >= 6  # and then mostly left alone


async def test_a_broken_experiments_file_stops_the_launch(repo: Path, store: Store) -> None:
    (repo / ".adw").mkdir(exist_ok=True)
    (repo / EXPERIMENTS_FILE).write_text(
        "experiments:\n  - name: x\n    workflow: plan\n    variants: [{name: a}]\n"
    )
    settings = load_settings(repo).model_copy(update={"engine": "sim"})
    async with Orchestrator(store, repo, settings) as orchestrator:
        issue = await store.issues.create("Feature", "x")
        with pytest.raises(AdwError, match=r"\.adw/experiments\.yaml: experiments\.0\.variants"):
            await orchestrator.launch(issue.number, workflow="plan")


async def test_a_variants_model_for_a_step_wins_over_the_workflows(
    repo: Path, store: Store
) -> None:
    (repo / ".adw" / "workflows").mkdir(parents=True)
    (repo / ".adw" / "workflows" / "classify_only.yaml").write_text(CLASSIFY)
    (repo / EXPERIMENTS_FILE).write_text(
        "experiments:\n  - name: models\n    workflow: classify_only\n    mode: fixed\n"
        "    variants:\n      - {name: small, models: {classify: haiku}}\n"
        "      - {name: big, models: {classify: opus}}\n"
    )
    settings = load_settings(repo).model_copy(update={"engine": "sim"})
    async with Orchestrator(store, repo, settings) as orchestrator:
        for number in range(4):
            issue = await store.issues.create(f"Feature {number}", "x")
            adw_id = await orchestrator.launch(issue.number, workflow="classify_only")
            await orchestrator.wait(adw_id)
            variant = (await store.load(adw_id)).state.as_data()["experiment"]["variant"]
            [attempt] = await store.steps.for_run(adw_id)
            assert attempt.model == {"small": "haiku", "big": "opus"}[variant]
