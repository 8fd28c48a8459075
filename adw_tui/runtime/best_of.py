"""Best-of-N: several runs of one issue side by side (`adw run --best-of N`), set side by
side afterwards (`adw compare`), and the operator's choice of the one whose branch goes
on (`adw choose`): the others are kept, marked not chosen.

A run of a group carries `best_of` in its state: the group's id, its place in it, the
group's size, and once chosen, whether it was. The comparison reads what the runs
recorded (their test results, the review's verdict) and what their branches changed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adw_tui.domain.durations import format_age
from adw_tui.domain.errors import AdwError
from adw_tui.domain.ids import new_adw_id
from adw_tui.runtime import git
from adw_tui.store import Store

if TYPE_CHECKING:
    from adw_tui.runtime.orchestrator import Orchestrator

BEST_OF = "best_of"


async def launch_group(
    orchestrator: "Orchestrator",
    issue: int,
    *,
    workflow: str,
    size: int,
    engines: Sequence[str | None] = (None,),
    model_sets: Sequence[str] = ("base",),
    try_variants: bool = True,
    fleet_labels: Sequence[str] | None = None,
) -> list[str]:
    """Queue `size` runs of `issue` side by side as one group, the engines and model sets
    taken in turn; with `try_variants` and an experiment on the workflow, its variants in
    turn instead (the choice among them is what it learns). With `fleet_labels`, they are
    queued for the fleet's workers (see `Orchestrator.launch`). Returns their adw_ids."""
    group = new_adw_id()
    return [
        await orchestrator.launch(
            issue,
            workflow=workflow,
            engine=engines[index % len(engines)],
            model_set=model_sets[index % len(model_sets)],
            force=True,
            state=group_state(group, index + 1, size),
            variant_in_turn=index,
            experiment=try_variants,
            fleet_labels=fleet_labels,
        )
        for index in range(size)
    ]


def group_state(group: str, index: int, size: int) -> dict[str, Any]:
    """The first-state entry of the `index`-th (from 1) of `size` runs of `group`."""
    return {BEST_OF: {"group": group, "index": index, "of": size}}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One run of a comparison."""

    adw_id: str
    status: str
    engine: str
    model_set: str
    cost_usd: float
    duration_s: float
    tests: str
    """`4/5 passed`, or `-` when the run recorded no test results."""
    review: str
    """`passed`, `3 issues (1 blocker)`, or `-`."""
    files: int
    insertions: int
    deletions: int
    branch: str
    chosen: bool | None


COLUMNS = ("run", "status", "engine", "set", "tests", "review", "diff", "cost", "took")
"""The comparison's columns (`figures`), before whether a run was chosen."""


def figures(candidate: Candidate) -> tuple[str, ...]:
    """A candidate as `adw compare` and the best-of screen show it (`COLUMNS`), as plain
    text: the views make it safe for their terminal."""
    return (
        candidate.adw_id,
        candidate.status,
        candidate.engine,
        candidate.model_set,
        candidate.tests,
        candidate.review,
        f"{candidate.files} files +{candidate.insertions} -{candidate.deletions}",
        f"${candidate.cost_usd:.2f}",
        format_age(timedelta(seconds=candidate.duration_s)),
    )


async def compare(store: Store, repo: Path, adw_ids: Sequence[str]) -> list[Candidate]:
    """The runs `adw_ids`, each as the comparison shows it."""
    return [await _candidate(store, repo, adw_id) for adw_id in adw_ids]


async def group_members(store: Store, adw_id: str) -> list[str]:
    """The runs of `adw_id`'s group, in their order; `[adw_id]` for a run of no group."""
    group = _group_of((await store.load(adw_id)).state.as_data())
    if group is None:
        return [adw_id]
    rows = await store.runs_in_group(group)
    return rows or [adw_id]


async def choose(store: Store, winner: str, *, actor: str) -> list[str]:
    """Mark `winner` chosen and the other runs of its group not chosen (a state version
    each, by `actor`); returns the group's runs."""
    loaded = (await store.load(winner)).state.as_data()
    if _group_of(loaded) is None:
        raise AdwError(f"run {winner} is of no best-of group: nothing to choose between")
    members = await group_members(store, winner)
    for adw_id in members:
        chosen = adw_id == winner

        def mark(data: dict[str, Any], chosen: bool = chosen) -> dict[str, Any]:
            return {**data, BEST_OF: {**data[BEST_OF], "chosen": chosen}}

        await store.update(
            adw_id,
            mark,
            reason="chosen of its best-of group" if chosen else f"not chosen: {winner} was",
            actor=actor,
        )
    return members


def awaits_choice(data: dict[str, Any]) -> bool:
    """Whether the run is of a best-of group none has chosen it from yet: its branch is
    kept back from origin (no push, no pull request) until it is the one chosen."""
    entry = data.get(BEST_OF)
    return isinstance(entry, dict) and entry.get("chosen") is not True


def _group_of(data: dict[str, Any]) -> str | None:
    entry = data.get(BEST_OF)
    group = entry.get("group") if isinstance(entry, dict) else None
    return group if isinstance(group, str) else None


async def _candidate(store: Store, repo: Path, adw_id: str) -> Candidate:
    loaded = await store.load(adw_id)
    data = loaded.state.as_data()
    run = loaded.run
    files, insertions, deletions = await _diff(repo, data)
    entry = data.get(BEST_OF)
    return Candidate(
        adw_id=adw_id,
        status=str(run.status),
        engine=loaded.control.engine or "-",
        model_set=str(data.get("model_set") or "base"),
        cost_usd=run.cost_usd,
        duration_s=(run.updated_at - run.created_at).total_seconds(),
        tests=_tests(data.get("test_results")),
        review=_review(data.get("review_result")),
        files=files,
        insertions=insertions,
        deletions=deletions,
        branch=str(data.get("branch_name") or "-"),
        chosen=entry.get("chosen") if isinstance(entry, dict) else None,
    )


def _tests(results: Any) -> str:
    if not isinstance(results, list) or not results:
        return "-"
    passed = sum(1 for test in results if isinstance(test, dict) and test.get("passed") is True)
    return f"{passed}/{len(results)} passed"


def _review(result: Any) -> str:
    if not isinstance(result, dict):
        return "-"
    issues = result.get("review_issues")
    issues = issues if isinstance(issues, list) else []
    blockers = sum(
        1
        for issue in issues
        if isinstance(issue, dict) and issue.get("issue_severity") == "blocker"
    )
    if result.get("success") is True and not blockers:
        return "passed" if not issues else f"passed, {len(issues)} issues"
    return f"{len(issues)} issues ({blockers} blocker{'s' if blockers != 1 else ''})"


async def _diff(repo: Path, data: dict[str, Any]) -> tuple[int, int, int]:
    """Files, lines added and lines removed on the run's branch since its base."""
    branch, base = data.get("branch_name"), data.get("base_branch")
    if not (isinstance(branch, str) and isinstance(base, str)):
        return 0, 0, 0
    result = await git.run_git("diff", "--numstat", f"{base}...{branch}", cwd=repo)
    if result.returncode != 0:
        return 0, 0, 0
    files = insertions = deletions = 0
    for line in result.stdout.splitlines():
        added, removed = [*line.split("\t", 2), "", ""][:2]
        files += 1
        insertions += int(added) if added.isdigit() else 0
        deletions += int(removed) if removed.isdigit() else 0
    return files, insertions, deletions
