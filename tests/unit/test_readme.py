"""The README's configuration table lists every setting, so the docs cannot drift from the code."""

from pathlib import Path

from streams.settings import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`{ENV_PREFIX}{name.upper()}`" not in text]
    assert missing == []


def test_readme_gives_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
