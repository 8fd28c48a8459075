"""The sample repository `adw demo` works on: a small Python project with tests, and
issues for the simulated agent to carry through a whole workflow."""

from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.runtime import git

FILES = {
    "README.md": "# textkit\n\nSmall text helpers, used by the adw_tui demo.\n",
    ".gitignore": "__pycache__/\n*.pyc\n.pytest_cache/\nagents/\ntrees/\n.ports.env\n",
    "pyproject.toml": (
        '[project]\nname = "textkit"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n'
    ),
    "textkit/__init__.py": '"""Small text helpers."""\n',
    "textkit/words.py": (
        '"""Counting and shaping words."""\n\n\n'
        "def word_count(text: str) -> int:\n"
        '    """How many whitespace-separated words `text` has."""\n'
        "    return len(text.split())\n\n\n"
        "def title_case(text: str) -> str:\n"
        '    return " ".join(word.capitalize() for word in text.split())\n'
    ),
    "tests/__init__.py": "",
    "tests/test_words.py": (
        "from textkit.words import title_case, word_count\n\n\n"
        'def test_word_count():\n    assert word_count("one two  three") == 3\n\n\n'
        'def test_title_case():\n    assert title_case("hello there") == "Hello There"\n'
    ),
}


@dataclass(frozen=True)
class DemoIssue:
    title: str
    body: str
    fails: bool = False


DEMO_ISSUES = (
    DemoIssue("Add a slugify helper", "Turn a title into a URL slug: lowercase, dashes."),
    DemoIssue("Fix crash on empty input", "word_count crashes with a bug on None input."),
    DemoIssue("Add a reverse words helper", "Reverse the order of the words in a sentence."),
    DemoIssue("Chore: refactor the words module", "Cleanup and docs for textkit.words."),
    DemoIssue(
        "Add a spell checker",
        "Check spelling against a dictionary. (The demo's agent is set to fail this one with "
        "an authentication error, so it lands in the dead-letter queue.)",
        fails=True,
    ),
)
# The simulated agent's fault knob for the issue built to fail: a permanent error.
FAILING_ENGINE_ENV = {"ADW_SIM_FAULTS": "implement=auth"}


async def create_sample_repo(path: Path) -> Path:
    """Write the project into `path` (new or empty) and make it a git repository with one
    commit on `main`."""
    if path.exists() and any(path.iterdir()):
        raise AdwError(f"{path} is not empty: choose a new folder with --dir")
    for relative, content in FILES.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    await git.git("init", "-q", "-b", "main", cwd=path)
    # The agents commit in worktrees, which share this configuration.
    await git.git("config", "user.name", "adw demo", cwd=path)
    await git.git("config", "user.email", "demo@adw.invalid", cwd=path)
    await git.git("add", "-A", cwd=path)
    await git.git("commit", "-q", "-m", "textkit: first version", cwd=path)
    return path
