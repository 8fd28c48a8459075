"""Import the original ADW scripts' `agents/<adw_id>/adw_state.json` files.

Each valid file becomes version 1 of a run. Importing is idempotent: a run that is
already in the store is left alone. A file that is not JSON (corrupt) or is JSON but not
an ADW state (foreign) is reported with the reason and skipped; nothing aborts the batch.
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adw_tui.domain.errors import RunExistsError
from adw_tui.domain.ids import ADW_ID_RULE, is_adw_id
from adw_tui.domain.modeling import Model
from adw_tui.domain.models import RunState, RunStatus
from adw_tui.store.store import Store

LEGACY_STATE_FILE = "adw_state.json"
LEGACY_WORKFLOW = "legacy"


class LegacyOutcome(StrEnum):
    IMPORTED = "imported"
    ALREADY_IMPORTED = "already_imported"
    CORRUPT = "corrupt"
    FOREIGN = "foreign"


class LegacyFileResult(Model):
    path: Path
    outcome: LegacyOutcome
    adw_id: str | None = None
    reason: str = ""


class _Rejected(Exception):
    def __init__(self, outcome: LegacyOutcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def legacy_state_files(directory: Path) -> list[Path]:
    """The legacy state files under `directory`, one per run folder, in name order."""
    return sorted(directory.glob(f"*/{LEGACY_STATE_FILE}"))


async def import_legacy_states(
    store: Store, directory: Path, *, actor: str = "migrate"
) -> list[LegacyFileResult]:
    """Import every legacy state file under `directory`; one result per file."""
    return [await _import_file(store, path, actor) for path in legacy_state_files(directory)]


async def _import_file(store: Store, path: Path, actor: str) -> LegacyFileResult:
    try:
        state = _read_legacy_state(path)
    except _Rejected as rejected:
        return LegacyFileResult(path=path, outcome=rejected.outcome, reason=rejected.reason)
    try:
        await store.create_run(
            state,
            workflow=legacy_workflow_name(state.all_adws),
            issue=state.issue_number,
            status=RunStatus.INTERRUPTED,
            actor=actor,
            reason=f"imported from {path}",
        )
    except RunExistsError:
        return LegacyFileResult(
            path=path,
            outcome=LegacyOutcome.ALREADY_IMPORTED,
            adw_id=state.adw_id,
            reason="run already in the database",
        )
    return LegacyFileResult(path=path, outcome=LegacyOutcome.IMPORTED, adw_id=state.adw_id)


def _read_legacy_state(path: Path) -> RunState:
    try:
        data: Any = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _Rejected(LegacyOutcome.CORRUPT, f"not valid JSON: {error}") from error
    except OSError as error:
        raise _Rejected(LegacyOutcome.CORRUPT, f"cannot read: {error.strerror}") from error
    if not isinstance(data, dict):
        raise _Rejected(
            LegacyOutcome.FOREIGN, f"top level is a JSON {type(data).__name__}, not an object"
        )
    adw_id = data.get("adw_id")
    if not isinstance(adw_id, str) or not is_adw_id(adw_id):
        raise _Rejected(
            LegacyOutcome.FOREIGN,
            "no adw_id field" if adw_id is None else f"adw_id {adw_id!r} is not {ADW_ID_RULE}",
        )
    if adw_id != path.parent.name:
        raise _Rejected(
            LegacyOutcome.FOREIGN, f"adw_id {adw_id} does not match its folder {path.parent.name}"
        )
    try:
        return RunState.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise _Rejected(LegacyOutcome.FOREIGN, f"field {field}: {first['msg']}") from error


def legacy_workflow_name(all_adws: list[str]) -> str:
    """The workflow a legacy run last ran: `adw_plan_build_iso` becomes `plan_build`."""
    if not all_adws:
        return LEGACY_WORKFLOW
    name = all_adws[-1].removeprefix("adw_").removesuffix(".py").removesuffix("_iso")
    return name or LEGACY_WORKFLOW
