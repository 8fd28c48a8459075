"""GitHub's REST API description cut down to the operations adw calls, for prism to serve.

The whole description (13 MB) takes prism ~17 s and ~400 MB to load; these few paths and
the components they reference, followed transitively, load in a few seconds. The cut is
deterministic and written once per test session, whichever xdist worker gets there first.
"""

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import github_packages

OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "/rate_limit": ("get",),
    "/repos/{owner}/{repo}": ("get",),
    "/repos/{owner}/{repo}/issues": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}": ("get", "patch"),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}/labels": ("post",),
    "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": ("delete",),
    "/repos/{owner}/{repo}/pulls": ("get", "post"),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("patch",),
}
"""The paths adw calls and, of each, the methods it uses."""

METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
COMPONENTS = "#/components/"


def cut(description: Mapping[str, Any]) -> dict[str, Any]:
    """`description` with only OPERATIONS and the components they need."""
    paths = {
        path: {
            key: value
            for key, value in description["paths"][path].items()
            if key in methods or key not in METHODS  # the path's shared parameters stay
        }
        for path, methods in OPERATIONS.items()
    }
    components: dict[str, dict[str, Any]] = {}
    pending = list(refs(paths))
    while pending:
        kind, name = component(pending.pop())
        if name in components.setdefault(kind, {}):
            continue
        found = description["components"][kind][name]
        components[kind][name] = found
        pending.extend(refs(found))
    kept = {
        "openapi": description["openapi"],
        "info": description["info"],
        "paths": paths,
        "components": components,
    }
    mended: dict[str, Any] = _for_prism(kept)
    return mended


def cut_file(cache: Path) -> Path:
    """The cut of the installed description, as a file under `cache` named by the
    package's version; made if missing, atomically, so racing workers each find it whole."""
    source = github_packages.openapi_description()
    version = json.loads((source.parents[1] / "package.json").read_text())["version"]
    target = cache / f"github-openapi-{version}-cut.json"
    if not target.exists():
        text = json.dumps(cut(json.loads(source.read_text())), sort_keys=True, indent=1)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_text(text)
        partial.replace(target)
    return target


def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the whole test session shares: under xdist each worker's base
    temporary directory sits in the session's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def refs(node: Any) -> Iterator[str]:
    """Every `$ref` in `node`, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def component(ref: str) -> tuple[str, str]:
    """`#/components/schemas/issue` as ("schemas", "issue")."""
    kind, _, name = ref.removeprefix(COMPONENTS).partition("/")
    if not ref.startswith(COMPONENTS) or not name or "/" in name:
        raise ValueError(f"the description refers to {ref!r}, not to a component")
    return kind, name


def _for_prism(node: Any) -> Any:
    """A copy of `node` that prism reads as GitHub means it.

    An example written `{"value": {"$ref": ...}}` (a reference put where the example's
    value belongs) becomes the reference. `nullable` goes where a schema has no `type`:
    OpenAPI 3.0.3 gives it no effect there, and the validator prism uses refuses such a
    schema, upon which prism lets every request through unchecked (the bodies of issues
    created and edited were)."""
    if isinstance(node, list):
        return [_for_prism(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _for_prism(value) for key, value in node.items()}
    if isinstance(copy.get("nullable"), bool) and "type" not in copy:
        del copy["nullable"]
    examples = copy.get("examples")
    if isinstance(examples, dict):
        copy["examples"] = {name: _unwrapped(example) for name, example in examples.items()}
    return copy


def _unwrapped(example: Any) -> Any:
    value = example.get("value") if isinstance(example, dict) else None
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return {"$ref": value["$ref"]}
    return example
