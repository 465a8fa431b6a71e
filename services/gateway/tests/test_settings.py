import pytest
from pydantic import ValidationError
from tandem_gateway.settings import PLACEHOLDER_TOKEN_SECRET, GatewaySettings

pytestmark = pytest.mark.unit


def test_the_placeholder_secret_is_refused_outside_dev_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TANDEM_GATEWAY_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("TANDEM_GATEWAY_DEV_MODE", raising=False)
    with pytest.raises(ValidationError, match="placeholder"):
        GatewaySettings()


def test_dev_mode_allows_the_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_GATEWAY_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("TANDEM_GATEWAY_DEV_MODE", "true")
    assert GatewaySettings().token_secret.get_secret_value() == PLACEHOLDER_TOKEN_SECRET


def test_a_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_GATEWAY_TOKEN_SECRET", "too-short")
    monkeypatch.delenv("TANDEM_GATEWAY_DEV_MODE", raising=False)
    with pytest.raises(ValidationError, match="at least 32"):
        GatewaySettings()


def test_a_real_secret_is_read_from_the_environment_and_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANDEM_GATEWAY_TOKEN_SECRET", "x" * 40)
    monkeypatch.delenv("TANDEM_GATEWAY_DEV_MODE", raising=False)
    settings = GatewaySettings()
    assert settings.token_secret.get_secret_value() == "x" * 40
    assert "x" * 40 not in repr(settings)
