"""Finding and validating workflows: the built-ins shipped in the package, then the
repository's own `.adw/workflows/*.yaml`, which replace built-ins of the same `name`.

Every problem is a `WorkflowError` of one line naming the file, then the state and the
field when there is one, so that it can be fixed without reading a traceback:

    .adw/workflows/x.yaml: state "plan": on_success: names unknown state "nope"
"""

import functools
import logging
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from adw_tui.domain.errors import AdwError
from adw_tui.domain.workflow import WorkflowDef

if TYPE_CHECKING:
    import yaml

logger = logging.getLogger(__name__)

REPO_WORKFLOWS_DIR = Path(".adw") / "workflows"
WORKFLOW_SUFFIXES = (".yaml", ".yml")
BUILTIN_DIR = "builtin"
BUILTIN_SOURCE = "built-in"
# Shown per file at most; the rest are counted.
MAX_PROBLEMS = 3

# What `${...}` can read in every run, before any step saved anything. Steps add their
# `save` names; a run continued by a single-phase workflow also keeps earlier saves
# (`relevant_files`: a scout step's, which `plan_w_docs` continues from; `documentation`:
# the `fetch_docs` action's).
RUN_VARIABLES = frozenset(
    {
        "adw_id",
        "issue_number",
        "issue_title",
        "issue_body",
        "issue_json",
        "branch_name",
        "plan_file",
        "worktree_path",
        "backend_port",
        "frontend_port",
        "model_set",
        "base_branch",
        "relevant_files",
        "documentation",
    }
)


class WorkflowError(AdwError):
    """A workflow file cannot be used; `source` is the file as the message names it."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class LoadedWorkflow:
    definition: WorkflowDef
    source: str
    """Where it came from: `builtin/<file>` or the path relative to the repository."""
    builtin: bool

    @property
    def name(self) -> str:
        return self.definition.name


def load_workflows(repo: Path | None) -> dict[str, LoadedWorkflow]:
    """Every workflow by name, repository files over built-ins; raise the first problem."""
    workflows, errors = load_workflows_report(repo)
    if errors:
        raise _first_of(errors)
    return workflows


def _first_of(errors: list[WorkflowError]) -> WorkflowError:
    """The first problem, saying how many more there are."""
    more = f" (and {len(errors) - 1} more: `adw workflows` lists them)" if errors[1:] else ""
    return WorkflowError(errors[0].source, f"{errors[0].problem}{more}")


def load_workflows_report(
    repo: Path | None,
) -> tuple[dict[str, LoadedWorkflow], list[WorkflowError]]:
    """The workflows that load, and the problems of the files that do not.

    A broken file is left out and the others still load, so a listing can show both.
    """
    workflows: dict[str, LoadedWorkflow] = {}
    errors: list[WorkflowError] = []
    for source, text in _builtin_files():
        _collect(source, text, builtin=True, into=workflows, errors=errors)
    repo_sources: dict[str, str] = {}
    for path in _repo_files(repo):
        source = path.relative_to(repo).as_posix() if repo is not None else str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            errors.append(WorkflowError(source, f"cannot be read: {error}"))
            continue
        _collect(source, text, builtin=False, into=workflows, errors=errors, taken=repo_sources)
    return dict(sorted(workflows.items())), errors


def get_workflow(name: str, repo: Path | None) -> LoadedWorkflow:
    """The workflow called `name`; an unknown name is an error listing the known ones.

    A broken repository file is logged as a warning and left out, so it stops only runs of
    the workflow it defines; asking for a name no file that loads defines is then its error
    (the broken file may be the one meant)."""
    workflows, errors = load_workflows_report(repo)
    for error in errors:
        logger.warning("workflow file left out: %s", error)
    if name not in workflows and errors:
        raise _first_of(errors)
    return select_workflow(name, workflows)


def select_workflow(name: str, workflows: dict[str, LoadedWorkflow]) -> LoadedWorkflow:
    """`workflows[name]`, or an error listing the known names."""
    try:
        return workflows[name]
    except KeyError:
        known = ", ".join(sorted(workflows))
        raise AdwError(f'unknown workflow "{name}"; known workflows: {known}') from None


@functools.lru_cache(maxsize=256)
def parse_workflow(source: str, text: str) -> WorkflowDef:
    """Parse and validate one workflow file's text; `source` names it in errors.

    Cached by text (definitions are frozen), so a launch that looks its workflow up
    parses only the files that changed since the last one (a broken file is parsed again
    each time: errors are not cached)."""
    data = _parse_yaml(source, text)
    if not isinstance(data, dict):
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        raise WorkflowError(source, f"expected a mapping with `name` and `states`, got {kind}")
    try:
        return WorkflowDef.model_validate(data)
    except ValidationError as error:
        problems = [_describe(detail) for detail in error.errors()]
        shown = "; ".join(problems[:MAX_PROBLEMS])
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise WorkflowError(source, shown + more) from None


def _collect(
    source: str,
    text: str,
    *,
    builtin: bool,
    into: dict[str, LoadedWorkflow],
    errors: list[WorkflowError],
    taken: dict[str, str] | None = None,
) -> None:
    """Parse one file into `into`, or record its error in `errors`. `taken` maps names to
    the repository files that defined them: two repository files may not share a name
    (which one should win?), while a repository file replaces a built-in on purpose."""
    try:
        definition = parse_workflow(source, text)
        if taken is not None and definition.name in taken:
            raise WorkflowError(
                source, f'name "{definition.name}" is already defined by {taken[definition.name]}'
            )
    except WorkflowError as error:
        errors.append(error)
        return
    into[definition.name] = LoadedWorkflow(definition, source, builtin)
    if taken is not None:
        taken[definition.name] = source


@functools.cache
def _builtin_files() -> tuple[tuple[str, str], ...]:
    """The package's workflow files, read once: they cannot change while adw runs."""
    folder = resources.files(__package__).joinpath(BUILTIN_DIR)
    items: list[Traversable] = sorted(
        (item for item in folder.iterdir() if item.name.endswith(WORKFLOW_SUFFIXES)),
        key=lambda item: item.name,
    )
    return tuple((f"{BUILTIN_DIR}/{item.name}", item.read_text(encoding="utf-8")) for item in items)


def _repo_files(repo: Path | None) -> list[Path]:
    if repo is None:
        return []
    folder = repo / REPO_WORKFLOWS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.iterdir() if path.suffix in WORKFLOW_SUFFIXES and path.is_file()
    )


@functools.cache
def _strict_loader() -> "type[yaml.CSafeLoader]":
    """yaml.safe_load's loader, except that a key repeated in one mapping is an error:
    PyYAML would keep the last one silently, and a state defined twice is a mistake.
    Made when first parsing: importing yaml costs a command that parses nothing ~10 ms."""
    import yaml

    try:  # libyaml's parser when PyYAML was built with it: ten times faster
        from yaml import CSafeLoader as SafeLoader
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        from yaml import SafeLoader  # type: ignore[assignment]

    class StrictLoader(SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    return StrictLoader


def _parse_yaml(source: str, text: str) -> Any:
    import yaml

    try:
        # As yaml.safe_load, plus the duplicate-key check: the strict loader is a safe one.
        return yaml.load(text, Loader=_strict_loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = error.problem or str(error)
        raise WorkflowError(f"{source}{where}", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise WorkflowError(source, f"invalid YAML: {error}") from None


def _describe(detail: ErrorDetails) -> str:
    """One pydantic error as `state "x": field: problem`."""
    loc = list(detail["loc"])
    prefix = ""
    if len(loc) >= 2 and loc[0] == "states":
        prefix = f'state "{loc[1]}": '
        loc = loc[2:]
        if loc[:1] == ["[key]"]:  # the state's name itself is not text
            prefix += "its name: "
            loc = loc[1:]
    message = _message(detail)
    if detail["type"] == "extra_forbidden" and loc:
        return f'{prefix}unknown field "{_field_path(loc)}"'
    if detail["type"] == "missing" and loc:
        return f'{prefix}missing field "{_field_path(loc)}"'
    return f"{prefix}{_field_path(loc)}: {message}" if loc else f"{prefix}{message}"


def _message(detail: ErrorDetails) -> str:
    """The error's text; for a validator's ValueError, its own message without pydantic's
    "Value error, " prefix."""
    context = detail.get("ctx") or {}
    if detail["type"] == "value_error" and "error" in context:
        return str(context["error"])
    return detail["msg"]


def _field_path(loc: list[int | str]) -> str:
    """`["args", 0]` -> `args[0]`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
