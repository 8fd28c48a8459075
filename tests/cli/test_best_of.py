"""Best-of-N from the command line, on real simulated runs: two runs of one issue side
by side, compared (tests, review, diff, cost, time), and one chosen, the other kept and
marked not chosen."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import adw_environment

ADW = [sys.executable, "-m", "adw_tui"]
pytestmark = pytest.mark.usefixtures("repo_db")


def adw(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ADW, "--repo", str(repo), *argv],
        env=adw_environment(ADW_ENGINE="sim", COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_two_runs_side_by_side_then_one_chosen(sample_repo: Path) -> None:
    assert adw(sample_repo, "issue", "new", "--title", "Add slugify", "--body", "x").returncode == 0
    ran = adw(
        sample_repo, "run", "1", "--workflow", "plan", "--best-of", "2",
        "--engines", "sim", "--model-sets", "base,heavy", "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    first, second = json.loads(ran.stdout)
    assert [first["model_set"], second["model_set"]] == ["base", "heavy"]
    assert {first["status"], second["status"]} == {"succeeded"}
    assert first["engine"] == "sim"
    assert first["files"] >= 1  # the plan, committed on its branch
    assert first["branch"] != second["branch"]  # a worktree and a branch each
    assert first["chosen"] is None

    chosen = adw(sample_repo, "choose", second["adw_id"])
    assert chosen.returncode == 0, chosen.stderr
    assert f"{first['adw_id']} marked not chosen (kept)" in chosen.stdout
    assert "Not pushed yet: the local tracker hosts no pull requests" in chosen.stdout
    compared = json.loads(adw(sample_repo, "compare", first["adw_id"], "--json").stdout)
    assert [(c["adw_id"], c["chosen"]) for c in compared] == [
        (first["adw_id"], False),
        (second["adw_id"], True),
    ]
    table = adw(sample_repo, "compare", first["adw_id"], second["adw_id"])
    assert "not chosen" in table.stdout
    history = adw(sample_repo, "history", first["adw_id"])
    assert f"not chosen: {second['adw_id']} was" in history.stdout


def test_choosing_needs_a_group_and_the_lists_need_best_of(sample_repo: Path) -> None:
    assert adw(sample_repo, "issue", "new", "--title", "Add slugify", "--body", "x").returncode == 0
    single = adw(sample_repo, "run", "1", "--workflow", "plan", "--json")
    adw_id = json.loads(single.stdout)["adw_id"]
    refused = adw(sample_repo, "choose", adw_id)
    assert refused.returncode == 1
    assert "is of no best-of group" in refused.stderr
    misused = adw(sample_repo, "run", "1", "--engines", "sim,claude")
    assert misused.returncode == 1
    assert "--engines and --model-sets go with --best-of N" in misused.stderr
    assert adw(sample_repo, "run", "1", "--best-of", "1").returncode == 2


def test_a_groups_choice_is_what_its_experiment_learns(sample_repo: Path) -> None:
    (sample_repo / ".adw").mkdir(exist_ok=True)
    (sample_repo / ".adw" / "experiments.yaml").write_text(
        "experiments:\n  - name: sets\n    workflow: plan\n    variants:\n"
        "      - {name: light, model_set: base}\n      - {name: strong, model_set: heavy}\n"
    )
    assert adw(sample_repo, "issue", "new", "--title", "Add slugify", "--body", "x").returncode == 0
    ran = adw(sample_repo, "run", "1", "--workflow", "plan", "--best-of", "2", "--json")
    assert ran.returncode == 0, ran.stderr
    light, strong = json.loads(ran.stdout)  # the variants in turn, not drawn
    assert (light["model_set"], strong["model_set"]) == ("base", "heavy")
    # Both succeeded, but nothing is learnt until the operator chooses.
    [before] = json.loads(adw(sample_repo, "experiments", "--json").stdout)
    assert [p["runs"] for p in before["posteriors"]] == [0, 0]
    assert adw(sample_repo, "choose", strong["adw_id"]).returncode == 0
    [after] = json.loads(adw(sample_repo, "experiments", "show", "sets", "--json").stdout)
    assert [(p["variant"], p["runs"], p["succeeded"]) for p in after["posteriors"]] == [
        ("light", 1, 0),
        ("strong", 1, 1),
    ]
