"""Settings from `ADW_*` variables and `.adw/config.toml`: precedence, names in any case,
JSON for list and dict fields, and errors that name the field."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from adw_tui.config import CONFIG_FILE, Settings, load_settings


def config(repo: Path, text: str) -> Path:
    (repo / CONFIG_FILE).parent.mkdir(parents=True, exist_ok=True)
    (repo / CONFIG_FILE).write_text(text, encoding="utf-8")
    return repo


def test_defaults_without_a_repository_or_variables():
    assert load_settings(None, {}) == Settings()


def test_the_environment_wins_over_the_file_which_wins_over_defaults(tmp_path: Path):
    repo = config(tmp_path, 'max_concurrent = 4\nengine = "sim"\nkill_grace = 1.5\n')
    settings = load_settings(repo, {"ADW_MAX_CONCURRENT": "9", "adw_Kill_Grace": "0.5"})
    assert (settings.max_concurrent, settings.engine, settings.kill_grace) == (9, "sim", 0.5)
    assert settings.busy_timeout == Settings().busy_timeout


def test_list_and_dict_variables_hold_json(tmp_path: Path):
    settings = load_settings(
        None,
        {
            "ADW_AGENT_ENV": '["HTTP_PROXY", "MY_*"]',
            "ADW_RATE_LIMITS": '{"claude": [50, 60]}',
            "ADW_RETRY_NON_RETRYABLE": '["auth"]',
            "ADW_DB": str(tmp_path / "x.db"),
        },
    )
    assert settings.agent_env == ["HTTP_PROXY", "MY_*"]
    assert settings.rate_limits == {"claude": (50.0, 60.0)}
    assert settings.retry_non_retryable == ["auth"]
    assert settings.db == str(tmp_path / "x.db")


def test_unknown_names_are_ignored(tmp_path: Path):
    repo = config(tmp_path, "no_such_setting = 1\n")
    assert load_settings(repo, {"ADW_NO_SUCH": "x", "ADW_CONFIG_DIR": "/tmp"}) == Settings()


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"ADW_BUSY_TIMEOUT": "soon"}, "busy_timeout"),
        ({"ADW_AGENT_ENV": "not json"}, "agent_env"),
        ({"ADW_MAX_CONCURRENT": "0"}, "max_concurrent"),
        ({"ADW_ENGINE": "gpt"}, "engine"),
    ],
)
def test_a_bad_value_is_a_validation_error_naming_its_field(environ: dict[str, str], field: str):
    with pytest.raises(ValidationError) as raised:
        load_settings(None, environ)
    assert raised.value.errors()[0]["loc"] == (field,)


def test_a_bad_value_in_the_file_names_its_field(tmp_path: Path):
    repo = config(tmp_path, 'port_count = "many"\n')
    with pytest.raises(ValidationError) as raised:
        load_settings(repo, {})
    assert raised.value.errors()[0]["loc"] == ("port_count",)
