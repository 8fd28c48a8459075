"""Key-level differences between two state versions, and their one-line description
(the CLI and the TUI only add colours)."""

import json
from enum import StrEnum
from typing import Any

from adw_tui.domain.modeling import Model
from adw_tui.domain.models import StateVersion


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


def json_text(value: Any) -> str:
    """A state value as it reads in JSON (strings quoted, null as null)."""
    return json.dumps(value, ensure_ascii=False)


class StateChange(Model):
    """One changed leaf; `path` is dotted (`a.b`) with list indexes in brackets (`a[2]`)."""

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        """`+ key: new`, `- key: old` or `~ key: old → new`, values as JSON."""
        if self.kind is ChangeKind.ADDED:
            return f"+ {self.path}: {json_text(self.new)}"
        if self.kind is ChangeKind.REMOVED:
            return f"- {self.path}: {json_text(self.old)}"
        return f"~ {self.path}: {json_text(self.old)} → {json_text(self.new)}"


def diff_states(old: dict[str, Any], new: dict[str, Any]) -> list[StateChange]:
    """Return the leaf changes from `old` to `new`, sorted by path."""
    changes: list[StateChange] = []
    _diff_into(changes, "", old, new)
    return sorted(changes, key=lambda change: change.path)


def _diff_into(changes: list[StateChange], path: str, old: Any, new: Any) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(StateChange(path=child, kind=ChangeKind.REMOVED, old=old[key]))
            elif key not in old:
                changes.append(StateChange(path=child, kind=ChangeKind.ADDED, new=new[key]))
            else:
                _diff_into(changes, child, old[key], new[key])
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            _diff_into(changes, f"{path}[{index}]", old_item, new_item)
    elif old != new or type(old) is not type(new):
        changes.append(StateChange(path=path, kind=ChangeKind.CHANGED, old=old, new=new))


def diff_versions(old: StateVersion | None, new: StateVersion) -> list[StateChange]:
    """The changes from `old` (None: nothing) to `new`: the workflow's data, then the
    runtime's control under `control.`."""
    old_state = {} if old is None else old.state.as_data()
    old_control = {} if old is None else old.control.model_dump(mode="json")
    control: list[StateChange] = []
    _diff_into(control, "control", old_control, new.control.model_dump(mode="json"))
    return diff_states(old_state, new.state.as_data()) + sorted(control, key=lambda c: c.path)
