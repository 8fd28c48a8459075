"""The simulated agent CLI, run as a real subprocess in real temporary directories.

Every test parses stdout line by line as the engine would, and checks the shapes against
what real Claude Code writes (see the reference transcripts).
"""

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.sim.cli import read_stdin
from adw_tui.agents.sim.faults import (
    CJK_LINE,
    HOSTILE_TEXT,
    OFF_FORMAT_TEXT,
    Fault,
    parse_faults,
    select_fault,
)
from adw_tui.domain.workflow import PLAN_SECTIONS as WORKFLOW_PLAN_SECTIONS

SIM = [sys.executable, "-m", "adw_tui.agents.sim"]
ISSUE = {"number": 7, "title": "Add dark mode toggle", "body": "Users want a dark theme."}
ISSUE_JSON = json.dumps(ISSUE)
ADW_ID = "abc12345"
SPEC = f"specs/issue-7-adw-{ADW_ID}-sdlc_planner-add-dark-mode-toggle.md"
PLAN_SECTIONS = list(WORKFLOW_PLAN_SECTIONS)
RESULT_FIELDS = {
    "type",
    "subtype",
    "is_error",
    "duration_ms",
    "duration_api_ms",
    "num_turns",
    "result",
    "session_id",
    "total_cost_usd",
    "usage",
    "modelUsage",
    "permission_denials",
    "terminal_reason",
}
ELEVEN_MB = 11 * 1024 * 1024


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        # Split at "\n" only: a JSON string may hold U+0085 or U+2028 raw, which
        # `splitlines` would also split at.
        return [line for line in self.stdout.split("\n") if line]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    @property
    def result(self) -> dict[str, Any]:
        last = self.messages[-1]
        assert last["type"] == "result"
        return last


Sim = Callable[..., Run]


def sim_env(state_dir: Path, faults: str = "", delay: str = "0") -> dict[str, str]:
    env = {**os.environ, "ADW_SIM_DELAY": delay, "ADW_SIM_FAULTS": faults}
    env["ADW_SIM_STATE_DIR"] = str(state_dir)
    # The `test` command runs pytest for real; plugins only slow it down here.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one committed file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q"],
        ["config", "user.email", "sim@example.com"],
        ["config", "user.name", "Sim Test"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "README.md").write_text("# demo\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "initial"], cwd=repo, check=True)
    return repo


@pytest.fixture
def sim(repo: Path, tmp_path: Path) -> Sim:
    """`sim(prompt, *flags, faults=..., fmt=..., cwd=...)` runs the simulated CLI to the end."""

    def run(
        prompt: str | None,
        *flags: str,
        faults: str = "",
        fmt: str = "stream-json",
        cwd: Path | None = None,
        delay: str = "0",
        stdin: str | None = None,
    ) -> Run:
        """`stdin` is written to the sim's standard input (else it is /dev/null); with a
        `prompt` of None and `stdin`, `-p` is given with no prompt argument."""
        prompt_args = ["-p", prompt] if prompt is not None else ["-p"] if stdin is not None else []
        args = [*SIM, *prompt_args, "--output-format", fmt, "--verbose", *flags]
        done = subprocess.run(
            args,
            cwd=cwd or repo,
            env=sim_env(tmp_path / "state", faults, delay),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def tool_pairs(messages: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(tool_use block, user message) pairs; each tool_use is answered by the next user line."""
    pairs = []
    for index, message in enumerate(messages):
        if message["type"] != "assistant":
            continue
        for block in message["message"]["content"]:
            if block["type"] == "tool_use":
                answer = messages[index + 1]
                assert answer["type"] == "user"
                pairs.append((block, answer))
    return pairs


def assert_well_formed(run: Run, *, success: bool = True) -> list[dict[str, Any]]:
    """Init first, result last with the real CLI's fields, one session, paired tool calls."""
    messages = run.messages
    init, result = messages[0], messages[-1]
    assert (init["type"], init["subtype"]) == ("system", "init")
    assert init["claude_code_version"] == "2.1.328"
    assert result["type"] == "result"
    assert result.keys() >= RESULT_FIELDS
    assert result["is_error"] is (not success)
    assert run.code == (0 if success else 1)
    assert {m["session_id"] for m in messages} == {init["session_id"]}
    assert len({m["uuid"] for m in messages}) == len(messages)
    for block, answer in tool_pairs(messages):
        (tool_result,) = answer["message"]["content"]
        assert tool_result["type"] == "tool_result"
        assert tool_result["tool_use_id"] == block["id"]
        assert "tool_use_result" in answer
    if success:
        assert result["subtype"] == "success"
        assert result["terminal_reason"] == "completed"
        last_text = messages[-2]["message"]["content"][0]["text"]
        assert result["result"] == last_text
        assert result["total_cost_usd"] > 0
        assert result["num_turns"] == len({m["message"]["id"] for m in assistants(messages)})
    return messages


def assistants(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "assistant"]


def tool_uses(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [block for block, _ in tool_pairs(messages) if block["name"] == name]


def plan_and_implement(sim: Sim) -> None:
    assert sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}").code == 0
    assert sim(f"/implement {SPEC}").code == 0


# -- command line ------------------------------------------------------------------------


def test_version() -> None:
    done = subprocess.run([*SIM, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "2.1.328 (Claude Code, simulated)"


def test_missing_prompt_is_an_error(sim: Sim) -> None:
    for run in (sim(None), sim(None, stdin="")):
        assert run.code == 1
        assert run.stdout == ""
        # the real CLI's words
        assert "Input must be provided either through stdin or as a prompt argument" in run.stderr


def test_the_prompt_is_read_from_stdin_as_the_real_cli_does(sim: Sim, repo: Path) -> None:
    prompt = f"/feature 7 {ADW_ID} {ISSUE_JSON}"
    as_argument = sim(prompt)
    (repo / SPEC).unlink()
    from_stdin = sim(None, stdin=prompt)
    assert from_stdin.code == 0, from_stdin.stderr
    assert without_durations(from_stdin) == without_durations(as_argument)
    # an argument and stdin together: one prompt, the argument first (Claude Code 2.1.328)
    both = sim("Say hello.", stdin="And goodbye.")
    assert both.result["result"] == sim("Say hello.\nAnd goodbye.").result["result"]


def test_a_silent_stdin_is_given_up_on_like_the_real_cli() -> None:
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(read_end, "rb") as stdin:
            started = time.monotonic()
            assert read_stdin(stdin, wait_s=0.2) == ""
            assert 0.2 <= time.monotonic() - started < 2
            os.write(write_end, b"a\r\nb")
            os.close(write_end)
            write_end = -1
            assert read_stdin(stdin, wait_s=0.2) == "a\r\nb"
    finally:
        if write_end >= 0:
            os.close(write_end)


def test_stream_json_without_verbose_is_refused_like_the_real_cli(repo: Path) -> None:
    done = subprocess.run(
        [*SIM, "-p", "hi", "--output-format", "stream-json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "requires --verbose" in done.stderr


def test_known_and_unknown_flags_are_accepted(sim: Sim) -> None:
    run = sim(
        "/classify_issue " + ISSUE_JSON,
        "--frobnicate",
        "--model",
        "opus",
        "--dangerously-skip-permissions",
        "--max-turns",
        "5",
        "--mcp-config",
        "missing.json",
        "--allowedTools",
        "Bash",
        "Write",
    )
    messages = assert_well_formed(run)
    assert messages[0]["model"] == "claude-opus-4-5"
    assert messages[0]["permissionMode"] == "bypassPermissions"
    assert list(run.result["modelUsage"]) == ["claude-opus-4-5"]


# -- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("Add dark mode toggle", "Users want a dark theme.", "/feature"),
        ("App crashes on start", "", "/bug"),
        ("Settings page", "Please fix the error shown on save.", "/bug"),
        ("Refactor the store module", "", "/chore"),
        ("Bump httpx", "", "/chore"),
    ],
)
def test_classify_issue(sim: Sim, title: str, body: str, expected: str) -> None:
    issue = json.dumps({"number": 3, "title": title, "body": body})
    run = sim(f"/classify_issue {issue}")
    assert_well_formed(run)
    assert run.result["result"] == expected
    assert run.result["num_turns"] == 1


def test_generate_branch_name(sim: Sim) -> None:
    issue = json.dumps({"number": 12, "title": "Fix: the Login page! crashes on Safari 17"})
    run = sim(f"/generate_branch_name /bug {ADW_ID} {issue}")
    assert_well_formed(run)
    assert run.result["result"] == f"bug-issue-12-adw-{ADW_ID}-fix-the-login-page-crashes"


def test_plan_writes_the_spec_through_a_write_tool_call(sim: Sim, repo: Path) -> None:
    run = sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}")
    messages = assert_well_formed(run)
    assert run.result["result"] == SPEC
    plan = (repo / SPEC).read_text()
    headings = re.findall(r"^## (.+)$", plan, re.M)
    assert headings == PLAN_SECTIONS
    assert "`src/add_dark_mode_toggle.py`" in plan
    assert "`tests/test_add_dark_mode_toggle.py`" in plan
    (write,) = tool_uses(messages, "Write")
    assert write["input"] == {"file_path": str(repo / SPEC), "content": plan}
    ((_, answer),) = tool_pairs(messages)
    assert answer["tool_use_result"]["type"] == "create"
    assert answer["tool_use_result"]["filePath"] == str(repo / SPEC)
    assert run.result["num_turns"] == 2


def test_plan_puts_code_in_the_repository_package(sim: Sim, repo: Path) -> None:
    (repo / "tests").mkdir()
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "mypkg").mkdir()
    (repo / "mypkg" / "__init__.py").write_text("")
    run = sim(f"/chore 7 {ADW_ID} {ISSUE_JSON}")
    assert_well_formed(run)
    plan = (repo / run.result["result"]).read_text()
    assert "`mypkg/add_dark_mode_toggle.py`" in plan
    assert "src/" not in plan


def test_implement_creates_a_module_whose_test_passes(sim: Sim, repo: Path) -> None:
    assert sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}").code == 0
    run = sim(f"/implement {SPEC}")
    messages = assert_well_formed(run)
    assert [block["input"]["file_path"] for block in tool_uses(messages, "Read")] == [
        str(repo / SPEC)
    ]
    written = [block["input"]["file_path"] for block in tool_uses(messages, "Write")]
    module, test = repo / "src/add_dark_mode_toggle.py", repo / "tests/test_add_dark_mode_toggle.py"
    assert written == [str(module), str(test)]
    assert "def add_dark_mode_toggle() -> str:" in module.read_text()
    assert "src/add_dark_mode_toggle.py" in run.result["result"]
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        env=sim_env(repo / "unused"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert pytest_run.returncode == 0, pytest_run.stdout
    assert "1 passed" in pytest_run.stdout


def test_implement_without_the_plan_fails(sim: Sim) -> None:
    run = sim("/implement specs/nope.md")
    assert_well_formed(run, success=False)
    assert run.result["subtype"] == "error_during_execution"
    assert "specs/nope.md" in run.result["errors"][0]


def test_test_command_reports_pytest_as_adw_json(sim: Sim, repo: Path) -> None:
    plan_and_implement(sim)
    run = sim("/test")
    messages = assert_well_formed(run)
    (entry,) = json.loads(run.result["result"])
    assert set(entry) == {"test_name", "passed", "execution_command", "test_purpose", "error"}
    assert entry["passed"] is True
    assert entry["error"] is None
    (bash,) = tool_uses(messages, "Bash")
    assert bash["input"]["command"] == entry["execution_command"]
    ((_, answer),) = tool_pairs(messages)
    assert "1 passed" in answer["tool_use_result"]["stdout"]
    assert not (repo / ".pytest_cache").exists()

    (repo / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    (entry,) = json.loads(sim("/test").result["result"])
    assert entry["passed"] is False
    assert "test_broken" in entry["error"]


def test_test_command_without_tests_folder(sim: Sim) -> None:
    run = sim("/test")
    assert_well_formed(run)
    assert json.loads(run.result["result"])[0]["test_name"] == "no tests"
    assert not tool_uses(run.messages, "Bash")


def test_resolve_failed_test_only_answers(sim: Sim, repo: Path) -> None:
    failed = json.dumps({"test_name": "test_login", "passed": False, "error": "boom"})
    run = sim(f"/resolve_failed_test {failed}")
    assert_well_formed(run)
    assert "test_login" in run.result["result"]
    assert not tool_uses(run.messages, "Write")


def test_review_blocks_on_missing_files_then_passes(sim: Sim) -> None:
    assert sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}").code == 0
    before = json.loads(sim(f"/review {ADW_ID} {SPEC} reviewer").result["result"])
    assert before["success"] is False
    assert {issue["issue_severity"] for issue in before["review_issues"]} == {"blocker"}
    assert len(before["review_issues"]) == 2

    assert sim(f"/implement {SPEC}").code == 0
    run = sim(f"/review {ADW_ID} {SPEC} reviewer")
    assert_well_formed(run)
    review = json.loads(run.result["result"])
    assert review == {
        "success": True,
        "review_summary": review["review_summary"],
        "review_issues": [],
        "screenshots": [],
    }
    assert SPEC in review["review_summary"]


def test_patch_writes_a_patch_plan(sim: Sim, repo: Path) -> None:
    assert sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}").code == 0
    run = sim(f"/patch {ADW_ID} Make the toggle blue {SPEC} reviewer")
    assert_well_formed(run)
    assert run.result["result"] == f"specs/patch/patch-adw-{ADW_ID}-make-the-toggle-blue.md"
    patch = (repo / run.result["result"]).read_text()
    assert "Make the toggle blue" in patch
    assert "`src/add_dark_mode_toggle.py`" in patch


def test_document_writes_app_docs(sim: Sim, repo: Path) -> None:
    plan_and_implement(sim)
    run = sim(f"/document {ADW_ID} {SPEC}")
    assert_well_formed(run)
    assert run.result["result"] == f"app_docs/feature-{ADW_ID}-add-dark-mode-toggle.md"
    assert "`src/add_dark_mode_toggle.py`" in (repo / run.result["result"]).read_text()
    assert sim(f"/document {ADW_ID}").result["result"] == f"app_docs/feature-{ADW_ID}-changes.md"


def test_commit_makes_a_real_commit(sim: Sim, repo: Path) -> None:
    plan_and_implement(sim)
    run = sim(f"/commit sdlc_implementor /feature {ISSUE_JSON}")
    messages = assert_well_formed(run)
    message = "sdlc_implementor: feature: Add dark mode toggle"
    assert run.result["result"] == message
    log = subprocess.run(
        ["git", "log", "-1", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert log.stdout.strip() == message
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    (bash,) = tool_uses(messages, "Bash")
    assert bash["input"]["command"].startswith("git add -A && git commit -m ")

    again = sim(f"/commit sdlc_implementor /feature {ISSUE_JSON}")
    assert_well_formed(again)
    assert "nothing to commit" in again.result["result"].lower()


def test_pull_request_describes_the_branch_and_closes_the_issue(sim: Sim, repo: Path) -> None:
    run = sim(f"/pull_request feature-x {ISSUE_JSON} {SPEC} {ADW_ID}")
    assert_well_formed(run)
    body = run.result["result"]
    head = subprocess.run(
        ["git", "log", "--oneline", "--no-decorate", "-n", "1"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert body.startswith("## Summary\n\n")
    assert f"- {head}" in body
    assert f"Plan: `{SPEC}`" in body
    assert f"ADW ID: {ADW_ID}" in body
    assert "Closes #" in body


def test_rendered_template_prompt_names_its_command(sim: Sim) -> None:
    prompt = (
        "<command-message>classify_issue is running…</command-message>\n"
        "<command-name>/classify_issue</command-name>\n"
        f"<command-args>{json.dumps({'number': 1, 'title': 'Crash on save'})}</command-args>\n\n"
        "# Classify\nAnswer with /feature, /bug or /chore.\n"
    )
    run = sim(prompt)
    assert_well_formed(run)
    assert run.result["result"] == "/bug"


def test_repository_template_command_quotes_its_first_line(sim: Sim, repo: Path) -> None:
    commands = repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "greet.md").write_text("Greet $ARGUMENTS politely.\nSecond line.\n")
    run = sim("/greet the team")
    messages = assert_well_formed(run)
    assert "Greet the team politely." in run.result["result"]
    assert messages[0]["slash_commands"][0] == "greet"


def test_repository_template_is_expanded_by_claude_codes_rules(sim: Sim, repo: Path) -> None:
    """`$0` is the first argument and quotes group words, as Claude Code expands them."""
    commands = repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "greet.md").write_text("---\ndescription: d\n---\nGreet $1, then $0.\n")
    assert "Greet the team, then Ada." in sim("/greet Ada 'the team'").result["result"]


def test_a_quoted_issue_json_is_read_whole(sim: Sim) -> None:
    """adw quotes an issue's JSON; an apostrophe in it is written `'"'"'`."""
    issue = json.dumps({"number": 3, "title": "Don't crash on save", "body": "It's broken."})
    quoted = "'" + issue.replace("'", "'\"'\"'") + "'"
    assert sim(f"/classify_issue {quoted}").result["result"] == "/bug"
    run = sim(f"/generate_branch_name /bug {ADW_ID} {quoted}")
    assert run.result["result"] == f"bug-issue-3-adw-{ADW_ID}-don-t-crash-on-save"


def test_unknown_command_is_an_error(sim: Sim) -> None:
    run = sim("/no_such_command a b")
    assert_well_formed(run, success=False)
    assert run.result["result"] == "Unknown slash command: no_such_command"
    assert run.result["num_turns"] == 0


def test_free_form_prompt_changes_nothing(sim: Sim, repo: Path) -> None:
    before = sorted(p.name for p in repo.iterdir())
    run = sim("Please explain what this repository does.")
    assert_well_formed(run)
    assert "explain what this repository does" in run.result["result"]
    assert sorted(p.name for p in repo.iterdir()) == before


# -- determinism and output formats --------------------------------------------------------


def without_durations(run: Run) -> list[dict[str, Any]]:
    messages = run.messages
    for message in messages:
        message.pop("duration_ms", None)
    return messages


def test_same_prompt_and_files_give_identical_lines(sim: Sim, repo: Path) -> None:
    prompt = f"/feature 7 {ADW_ID} {ISSUE_JSON}"
    first = sim(prompt)
    (repo / SPEC).unlink()
    second = sim(prompt)
    assert without_durations(first) == without_durations(second)
    other = sim(f"/bug 7 {ADW_ID} {ISSUE_JSON}")
    assert other.messages[0]["session_id"] != first.messages[0]["session_id"]


def test_resume_keeps_the_session_id(sim: Sim) -> None:
    run = sim("hello", "--resume", "11111111-2222-3333-4444-555555555555")
    assert {m["session_id"] for m in run.messages} == {"11111111-2222-3333-4444-555555555555"}


def test_json_output_is_one_array(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", fmt="json")
    assert len(run.lines) == 1
    messages = json.loads(run.stdout)
    assert messages[0]["subtype"] == "init"
    assert messages[-1]["result"] == "/feature"


def test_text_output_is_the_result_only(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", fmt="text")
    assert run.stdout == "/feature\n"


def test_delay_paces_the_lines(sim: Sim) -> None:
    started = time.monotonic()
    run = sim(f"/classify_issue {ISSUE_JSON}", delay="0.2")
    assert len(run.lines) == 3
    assert time.monotonic() - started >= 0.4


# -- turn limits -------------------------------------------------------------------------


def test_max_turns_stops_a_longer_command(sim: Sim, repo: Path) -> None:
    run = sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}", "--max-turns", "1")
    messages = assert_well_formed(run, success=False)
    result = run.result
    assert result["subtype"] == "error_max_turns"
    assert result["terminal_reason"] == "max_turns"
    assert result["errors"] == ["Reached maximum number of turns (1)"]
    assert result["num_turns"] == 2  # the real CLI counts the turn it refused
    assert len(tool_uses(messages, "Write")) == 1
    assert (repo / SPEC).is_file()
    assert sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}", "--max-turns", "2").code == 0


# -- faults ------------------------------------------------------------------------------


def test_fail_once_fails_the_first_call_only(sim: Sim) -> None:
    faults = "classify_issue=fail_once"
    first = sim(f"/classify_issue {ISSUE_JSON}", faults=faults)
    assert_well_formed(first, success=False)
    assert first.result["subtype"] == "error_during_execution"
    assert first.result["errors"]
    second = sim(f"/classify_issue {ISSUE_JSON}", faults=faults)
    assert_well_formed(second)
    assert second.result["result"] == "/feature"
    other_command = sim(f"/generate_branch_name /feature {ADW_ID} {ISSUE_JSON}", faults=faults)
    assert other_command.code == 0


def test_fail_once_fails_once_across_parallel_processes(repo: Path, tmp_path: Path) -> None:
    env = sim_env(tmp_path / "state", "*=fail_once")
    procs = [
        subprocess.Popen(
            [*SIM, "-p", "hello", "--output-format", "stream-json", "--verbose"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(6)
    ]
    codes = sorted(proc.wait(timeout=30) for proc in procs)
    assert codes == [0, 0, 0, 0, 0, 1]


def test_fail_always(sim: Sim) -> None:
    for _ in range(2):
        run = sim("/test", faults="test=fail_always")
        assert_well_formed(run, success=False)
        assert run.result["subtype"] == "error_during_execution"


def test_crash_exits_3_without_a_result(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", faults="*=crash")
    assert run.code == 3
    assert [m["type"] for m in run.messages] == ["system", "assistant"]
    assert "crash" in run.stderr


def test_hang_emits_init_then_nothing(repo: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*SIM, "-p", "/test", "--output-format", "stream-json", "--verbose"],
        cwd=repo,
        env=sim_env(tmp_path / "state", "test=hang"),
        stdout=subprocess.PIPE,
        bufsize=0,  # unbuffered: readline takes one line, so select sees anything after it
    )
    assert proc.stdout is not None
    try:
        init = json.loads(proc.stdout.readline())
        assert init["subtype"] == "init"
        readable, _, _ = select.select([proc.stdout], [], [], 1.0)
        assert readable == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.mark.parametrize(
    ("fault", "status", "error", "retries"),
    [
        ("rate_limit", 429, "rate_limit", 0),
        ("overloaded", 529, "server_error", 2),
        ("auth", 401, "authentication_failed", 0),
    ],
)
def test_api_error_faults_look_like_the_real_cli(
    sim: Sim, fault: str, status: int, error: str, retries: int
) -> None:
    run = sim("/test", faults=f"*={fault}")
    messages = assert_well_formed(run, success=False)
    retry_lines = [m for m in messages if m.get("subtype") == "api_retry"]
    assert [m["attempt"] for m in retry_lines] == list(range(1, retries + 1))
    assert all(m["error_status"] == status for m in retry_lines)
    (synthetic,) = assistants(messages)
    assert synthetic["error"] == error
    assert synthetic["is_api_error_message"] is True
    assert synthetic["message"]["model"] == "<synthetic>"
    result = run.result
    assert (result["subtype"], result["api_error_status"]) == ("success", status)
    assert result["terminal_reason"] == "api_error"
    assert result["result"].startswith(f"API Error: {status}")
    assert result["total_cost_usd"] == 0


def test_malformed_line_mid_stream_then_success(sim: Sim, repo: Path) -> None:
    run = sim(f"/feature 7 {ADW_ID} {ISSUE_JSON}", faults="feature=malformed")
    assert run.code == 0
    bad = []
    for number, line in enumerate(run.lines):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
    assert len(bad) == 1
    assert 0 < bad[0] < len(run.lines) - 1
    good = run.lines[: bad[0]] + run.lines[bad[0] + 1 :]
    result = json.loads(good[-1])
    assert (result["type"], result["is_error"]) == ("result", False)
    assert (repo / SPEC).is_file()


def test_huge_line_mid_stream_then_success(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", faults="*=huge")
    messages = assert_well_formed(run)
    sizes = [len(line.encode()) for line in run.lines]
    assert max(sizes) > ELEVEN_MB
    huge = messages[sizes.index(max(sizes))]
    assert huge["type"] == "assistant"
    assert run.result["result"] == "/feature"


def test_hostile_fault_says_every_control_then_does_the_command(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", faults="*=hostile")
    messages = assert_well_formed(run)
    said = [
        block.get("text") or block.get("content")
        for message in messages
        if message["type"] in ("assistant", "user")
        for block in message["message"]["content"]
        if block["type"] in ("text", "tool_result")
    ]
    assert said[: len(HOSTILE_TEXT.split("\n"))] == HOSTILE_TEXT.split("\n")
    assert HOSTILE_TEXT in said
    assert CJK_LINE in said
    assert "\\ud800" in run.stdout  # a lone surrogate is escaped, as JSON.stringify does
    assert run.result["result"] == "/feature"


def test_max_turns_fault(sim: Sim) -> None:
    run = sim("hello", faults="*=max_turns")
    assert_well_formed(run, success=False)
    assert run.result["subtype"] == "error_max_turns"


def test_faults_for_other_commands_do_not_apply(sim: Sim) -> None:
    run = sim(f"/classify_issue {ISSUE_JSON}", faults="test=fail_always,implement=crash")
    assert_well_formed(run)


# Scouts: `/scout`, and faults narrowed to a model (`scout@<model>=<fault>`) that make
# one of several scouts answer off format or edit the worktree.

SCOUT = f"/scout '{ISSUE_JSON}'"


def test_scout_answers_the_tracked_files_sharing_a_word_with_the_title(
    sim: Sim, repo: Path
) -> None:
    (repo / "toggle.py").write_text("a\nb\nc\n")
    (repo / "untracked_toggle.py").write_text("x\n")
    subprocess.run(["git", "add", "toggle.py"], cwd=repo, check=True)
    answer = json.loads(sim(SCOUT).result["result"])
    assert answer["files"] == [
        {
            "path": "toggle.py",
            "offset": 0,
            "limit": 3,
            "reason": "its path shares a word with the issue's title",
        }
    ]
    assert answer["key_findings"]["summary"] == "1 of 2 tracked files look relevant."


def test_faults_narrowed_to_a_model(sim: Sim, repo: Path) -> None:
    faults = "scout@garbled=off_format,scout@vandal=stray_edit"
    assert sim(SCOUT, "--model", "garbled", faults=faults).result["result"] == OFF_FORMAT_TEXT
    assert json.loads(sim(SCOUT, "--model", "sonnet", faults=faults).result["result"])["files"]
    answer = sim(SCOUT, "--model", "vandal", faults=faults).result["result"]
    assert json.loads(answer)["files"]  # it answers, having edited the worktree
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert status.splitlines() == [" M README.md", "?? STRAY.md"]


def test_a_model_rule_wins_over_the_command_rule_which_wins_over_any() -> None:
    rules = parse_faults("*=crash,scout=hang,scout@slow=off_format,*@fast=auth")
    assert select_fault(rules, "scout", "slow") is Fault.OFF_FORMAT
    assert select_fault(rules, "scout", "other") is Fault.HANG
    assert select_fault(rules, "feature", "fast") is Fault.AUTH
    assert select_fault(rules, "feature", "other") is Fault.CRASH
    assert select_fault(rules, "feature") is Fault.CRASH
