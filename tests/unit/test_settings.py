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


def test_rate_is_the_per_partition_limit_without_an_app_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERCOM_STREAM_RATE_LIMIT_APP_CALLS", raising=False)
    monkeypatch.setenv("INTERCOM_STREAM_RATE_LIMIT", "83/10s")
    monkeypatch.setenv("INTERCOM_STREAM_PARTITIONS", "40")
    assert load_settings().rate == (83, 10.0)


@pytest.mark.parametrize(
    ("budget", "partitions", "rate_limit", "expected"),
    [
        ("1200", "8", "83/10s", (83, 10.0)),  # 1200 // 8 = 150: the per-partition limit is lower
        ("1200", "20", "83/10s", (60, 10.0)),  # 1200 // 20 = 60
        ("1666", "24", "83/10s", (69, 10.0)),  # rounded down: 24 x 69 = 1656 <= 1666
        ("7", "7", "83/10s", (1, 10.0)),
        ("500", "4", "50/5s", (50, 5.0)),  # the budget counts per RATE_LIMIT window
    ],
)
def test_app_budget_is_divided_over_the_partitions(
    monkeypatch: pytest.MonkeyPatch,
    budget: str,
    partitions: str,
    rate_limit: str,
    expected: tuple[int, float],
) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_RATE_LIMIT_APP_CALLS", budget)
    monkeypatch.setenv("INTERCOM_STREAM_PARTITIONS", partitions)
    monkeypatch.setenv("INTERCOM_STREAM_RATE_LIMIT", rate_limit)
    settings = load_settings()
    assert settings.rate == expected
    assert settings.rate[0] * settings.partitions <= settings.rate_limit_app_calls  # type: ignore[operator]


def test_an_app_budget_smaller_than_the_partition_count_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_RATE_LIMIT_APP_CALLS", "3")
    monkeypatch.setenv("INTERCOM_STREAM_PARTITIONS", "4")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "INTERCOM_STREAM_RATE_LIMIT_APP_CALLS" in message and "4 partitions" in message


def test_unknown_user_settings_reach_the_delivery_options(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings().delivery_options()
    assert defaults.unknown_user_policy == "dead_letter"
    assert (load_settings().unknown_user_hold_s, load_settings().park_max_per_user) == (30.0, 100)
    monkeypatch.setenv("INTERCOM_STREAM_UNKNOWN_USER_POLICY", "create")
    monkeypatch.setenv("INTERCOM_STREAM_UNKNOWN_USER_HOLD_S", "5")
    options = load_settings().delivery_options()
    assert (options.unknown_user_policy, load_settings().unknown_user_hold_s) == ("create", 5.0)
    monkeypatch.setenv("INTERCOM_STREAM_UNKNOWN_USER_POLICY", "ignore")
    with pytest.raises(ConfigurationError, match="INTERCOM_STREAM_UNKNOWN_USER_POLICY"):
        load_settings()
