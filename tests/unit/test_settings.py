import pytest

from streams.errors import ConfigurationError
from streams.settings import load_settings


def test_region_picks_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_REGION", "eu")
    assert load_settings().intercom_base_url == "https://api.eu.intercom.io"


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_RATE_LIMIT", "lots")
    monkeypatch.setenv("INTERCOM_STREAM_REGION", "mars")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "INTERCOM_STREAM_RATE_LIMIT" in str(caught.value) and "INTERCOM_STREAM_REGION" in str(caught.value)


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERCOM_STREAM_INTERCOM_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="INTERCOM_STREAM_INTERCOM_TOKEN"):
        load_settings().require_token()


def test_token_is_secret_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_INTERCOM_TOKEN", "tok_very_secret")
    settings = load_settings()
    assert "tok_very_secret" not in repr(settings) and "tok_very_secret" not in str(settings.model_dump())
    assert settings.require_token() == "tok_very_secret"
