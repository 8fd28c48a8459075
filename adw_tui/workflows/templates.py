"""Prompt templates: a command step's `/name` and arguments become the prompt an agent gets.

A step's arguments are written after the name with `quote_arguments`: a plain word as it
is, anything else (an issue's JSON) in single quotes, so that Claude Code reads each back
whole as `$0`, `$1`, ... A repository that ships its own `.claude/commands/<name>.md` keeps
full control: the agent is sent `/name <arguments>` and Claude Code expands the template
itself, as the original ADW scripts did. Otherwise the bundled template
(`adw_tui/workflows/prompts/`) is expanded here by Claude Code's rules
(`adw_tui.domain.command_templates`) behind the same `<command-message>`, `<command-name>`
and `<command-args>` lines Claude Code puts in front of an expanded command, so the prompt
is the text Claude Code would make of it, and the transcript (and the simulated agent)
still see which command ran.

Only the worktree is searched for `.claude/commands`: it is a checkout of the repository,
so the repository's committed templates are there too (and a run may change them on its
branch). Templates that exist only uncommitted in the main checkout are not seen.
"""

import re
from importlib import resources
from pathlib import Path
from typing import ClassVar

from adw_tui.domain.command_templates import expand, quote_arguments, split_front_matter
from adw_tui.domain.errors import AdwError

COMMANDS_DIR = Path(".claude") / "commands"
_PROMPTS = "prompts"
# What Claude Code accepts after the slash; `a:b` is the template `a/b.md`.
_COMMAND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.-]*")
# Front matter is Claude Code's, not strict YAML (`argument-hint: [a] [b]`), so the one key
# read here is read on its own line: `sections: [Summary, Problem]`.
_SECTIONS = re.compile(r"^sections:[ \t]*\[(.*)\][ \t]*$", re.M)


class TemplateError(AdwError):
    """A command has no template, or its name is malformed.

    It is permanent: trying the same step again cannot succeed until a template is added.
    """

    transient: ClassVar[bool] = False


def command_name(command: str) -> str:
    """`/implement` -> `implement`; raise TemplateError for anything that is not a name."""
    name = command.strip().removeprefix("/")
    if not _COMMAND_NAME.fullmatch(name):
        raise TemplateError(
            f"invalid command {command!r}: expected /name with letters, digits, _ . : or -"
        )
    return name


def repo_template(name: str, worktree: Path) -> Path | None:
    """The worktree's own template for `name`, if it has one."""
    path = worktree.joinpath(COMMANDS_DIR, *name.split(":")).with_suffix(".md")
    return path if path.is_file() else None


def bundled_template(name: str) -> str | None:
    """The text of the bundled template for `name`, None when there is none."""
    if ":" in name:
        return None
    resource = resources.files(__package__).joinpath(_PROMPTS, f"{name}.md")
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def bundled_commands() -> list[str]:
    """Names of the bundled templates, sorted."""
    folder = resources.files(__package__).joinpath(_PROMPTS)
    return sorted(
        item.name.removesuffix(".md") for item in folder.iterdir() if item.name.endswith(".md")
    )


def declared_sections(template: str) -> tuple[str, ...]:
    """The `## ` sections `template`'s front matter says its plan has (`sections: [...]`),
    none when it declares none."""
    found = _SECTIONS.search(split_front_matter(template)[0])
    if found is None:
        return ()
    names = (name.strip().strip("'\"").strip() for name in found.group(1).split(","))
    return tuple(name for name in names if name)


def command_sections(command: str, worktree: Path) -> tuple[str, ...]:
    """The sections declared by the template `command` runs in `worktree`: the repository's
    own when it has one (an original ADW template declares none, so any plan will do),
    else the bundled one."""
    name = command_name(command)
    own = repo_template(name, worktree)
    template = own.read_text(encoding="utf-8") if own is not None else bundled_template(name)
    return declared_sections(template) if template is not None else ()


def render_command(
    command: str, args: list[str], worktree: Path, *, agent_expands: bool = True
) -> str:
    """The prompt for `command` (e.g. `/implement`) with `args`, to run in `worktree`.

    A repository's own template is left for the agent to expand (`/name args`) when it
    reads `.claude/commands` itself (`agent_expands`, Claude Code); for any other engine
    adw expands it here, with the same rules, so a workflow runs the same on every
    engine."""
    name = command_name(command)
    arguments = quote_arguments(args)
    own = repo_template(name, worktree)
    if own is not None and agent_expands:
        return f"/{name} {arguments}" if arguments else f"/{name}"
    template = own.read_text(encoding="utf-8") if own is not None else bundled_template(name)
    if template is None:
        raise TemplateError(
            f"no template for /{name}: add {COMMANDS_DIR / name.replace(':', '/')}.md"
        )
    return command_markers(name, arguments) + expand(template, arguments, args)


def command_markers(name: str, arguments: str) -> str:
    """The lines Claude Code writes before the template it expanded for `/name arguments`."""
    lines = [f"<command-message>{name}</command-message>", f"<command-name>/{name}</command-name>"]
    if arguments:
        lines.append(f"<command-args>{arguments}</command-args>")
    return "\n".join(lines) + "\n"
