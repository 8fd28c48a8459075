"""`adw experiments`: the variants with their posteriors, from a real database."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.experiments import EXPERIMENTS_FILE
from adw_tui.store import Store
from tests.conftest import RepoDatabase, adw_environment

ADW = [sys.executable, "-m", "adw_tui"]
EXPERIMENT = """
experiments:
  - name: heavy-plans
    workflow: plan_build
    variants:
      - {name: base, model_set: base}
      - {name: heavy, model_set: heavy, engine: codex}
"""


def adw(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ADW, "--repo", str(repo), "experiments", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=adw_environment(COLUMNS="160"),
    )


async def test_experiments_show_each_variants_runs_and_posterior(
    sample_repo: Path, repo_db: RepoDatabase
) -> None:
    (sample_repo / ".adw").mkdir(exist_ok=True)
    (sample_repo / EXPERIMENTS_FILE).write_text(EXPERIMENT)
    async with await Store.open(repo_db.of(sample_repo)) as store:
        outcomes = [("base", RunStatus.SUCCEEDED)] * 8 + [("heavy", RunStatus.FAILED)] * 4
        for number, (variant, status) in enumerate(outcomes):
            await store.create_run(
                {
                    "adw_id": f"e{number:07x}",
                    "experiment": {"name": "heavy-plans", "variant": variant, "draws": {}},
                },
                workflow="plan_build",
                actor="test",
                status=status,
            )
    listed = adw(sample_repo)
    assert listed.returncode == 0, listed.stderr
    assert "heavy-plans: plan_build (Thompson sampling)" in listed.stdout
    assert "model_set=heavy, engine=codex" in listed.stdout
    [shown] = json.loads(adw(sample_repo, "show", "heavy-plans", "--json").stdout)
    base, heavy = shown["posteriors"]
    assert (base["variant"], base["runs"], base["succeeded"]) == ("base", 8, 8)
    assert (heavy["runs"], heavy["succeeded"]) == (4, 0)
    assert base["p_best"] > 0.99
    assert base["mean"] == 0.9  # (1 + 8) / (2 + 8)
    missing = adw(sample_repo, "show", "nope")
    assert missing.returncode == 1
    assert "no experiment 'nope' (known: heavy-plans)" in missing.stderr


@pytest.mark.usefixtures("repo_db")
def test_without_a_file_there_are_no_experiments(sample_repo: Path) -> None:
    listed = adw(sample_repo)
    assert listed.returncode == 0, listed.stderr
    assert "No experiments" in listed.stdout
