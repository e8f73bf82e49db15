"""Secret masking: recursive through data and JSON strings, in log records, in exceptions."""

from __future__ import annotations

import json
import logging

import pytest

from beluga_core import Kit, get_logger, mask_secrets, mask_text, mask_value
from beluga_core.masking import SecretMaskingFilter

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"


def test_partial_reveal_keeps_two_characters_at_each_end() -> None:
    assert mask_value("sk-abcdefghijklmnef") == "sk" + "*" * 15 + "ef"
    assert mask_value("short") == "*****"


def test_mask_secrets_walks_dicts_lists_and_json_strings() -> None:
    data = {
        "api_key": KEY,
        "nested": {"Authorization": "Bearer abcdefghijklmnop", "items": [{"password": "hunter2hunter2"}]},
        "body": json.dumps({"token": "tok_1234567890", "ok": 1}),
        "private_key": "-----BEGIN-----",
        "cookie": "session=abcdef123456",
        "name": "visible",
        "count": 3,
    }
    masked = mask_secrets(data)
    flat = json.dumps(masked)
    for secret in (KEY, "abcdefghijklmnop", "hunter2hunter2", "tok_1234567890", "-----BEGIN-----", "abcdef123456"):
        assert secret not in flat
    assert masked["name"] == "visible" and masked["count"] == 3
    assert json.loads(masked["body"])["ok"] == 1
    assert data["api_key"] == KEY  # the input is not modified


def test_free_text_secrets_are_masked() -> None:
    text = f"calling with key {KEY} and header Authorization: Bearer abcdefghijklmnop, password=swordfish99"
    out = mask_text(text)
    assert KEY not in out and "abcdefghijklmnop" not in out and "swordfish99" not in out
    assert "calling with key" in out


def test_beluga_loggers_mask_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("beluga.test")
    with caplog.at_level(logging.INFO, logger="beluga.test"):
        log.info("config %s", {"api_key": KEY})
        log.info("plain api_key=%s", KEY)
        try:
            raise ValueError(f"upstream said: invalid key {KEY}")
        except ValueError:
            log.exception("call failed")
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in (record.exc_text or "")


def test_filter_can_be_installed_on_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("someapp")
    log.addFilter(SecretMaskingFilter())
    with caplog.at_level(logging.INFO, logger="someapp"):
        log.info({"password": "p4ssw0rd!!"})
    assert "p4ssw0rd!!" not in caplog.text


def test_secrets_from_a_test_config_never_reach_the_logs(caplog: pytest.LogCaptureFixture, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "beluga.toml"
    p.write_text(f'[providers.echo]\napi_key = "{KEY}"\n')
    with caplog.at_level(logging.DEBUG):
        kit = Kit(p, entry_points=False)
        kit.generate("hi")
        p.write_text(f'[providers.echo]\napi_key = "{KEY}"\nread_timeout = "bad"\n')
        kit.reload()
        p.write_text(f'[providers.echo]\napi_key = "{KEY}x"\n')
        kit.reload()
    assert KEY not in caplog.text
    assert KEY not in repr(kit.config)


def test_config_errors_about_secret_keys_do_not_quote_the_value(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from beluga_core import ConfigError

    p = tmp_path / "beluga.toml"
    p.write_text("[providers.echo]\napi_key = 12345678901234\n")
    with pytest.raises(ConfigError) as info:
        Kit(p, entry_points=False)
    assert "12345678901234" not in str(info.value)
    assert "providers.echo.api_key" in str(info.value)


# Every form a secret-named key takes in text: key=value, key: value, JSON, Python repr (dict and call).
FORMS = [
    "password={v}",
    "password = {v}",
    "password: {v}",
    "api_key:{v}",
    "{{\"password\": \"{v}\"}} and more",
    "body {{\"token\": \"{v}\", \"n\": 1}}",
    "{{'password': '{v}'}}",
    "{{'api_key': '{v}', 'model': 'x'}}",
    "Config(password='{v}', retries=3)",
    "Config(secret=\"{v}\")",
    "Config(password={v})",
    "OPENAI_API_KEY={v} python app.py",
    "client_secret: {v}\nnext: line",
    "X-Api-Key: {v}",
]
SECRETS = ["Q", "Qz", "Qz7", "Qz7#", "Qz7#xY", "Qz7#xYw9", "Qz7#xYw9pLmN0vKe"]


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: f"{len(s)}chars")
@pytest.mark.parametrize("form", FORMS)
def test_a_secret_named_value_is_masked_in_every_text_form_whatever_its_length(form: str, secret: str) -> None:
    text = form.format(v=secret)
    out = mask_text(text)
    if len(secret) < 8:
        assert out == text.replace(secret, "*" * len(secret), 1)
    else:
        assert out == text.replace(secret, secret[:2] + "*" * (len(secret) - 4) + secret[-2:], 1)


def test_a_quoted_secret_is_masked_whole_spaces_and_escaped_quotes_included() -> None:
    assert mask_text("Config(password='a b')") == "Config(password='***')"
    assert mask_text('sent {"password": "a\\"b c"} ok') == 'sent {"password": "******"} ok'
    assert mask_text('cut off {"password": "abc') == 'cut off {"password": "***'
    assert mask_text("cut off password='ab") == "cut off password='**"


def test_an_empty_secret_stays_empty_in_every_form() -> None:
    empty = ("password=", "password=, next", "Config(password='')", '{"password": ""}', "{'token': ''}",
             'x {"token": ""}', "{'api_key': '', 'n': 1}")
    for text in empty:
        assert mask_text(text) == text
    assert mask_secrets({"password": ""}) == {"password": ""}


def test_words_that_only_contain_a_secret_name_are_left_alone() -> None:
    text = "max_tokens=5, prompt_tokens: 12, secretary: Bob, tokenizer=bpe"
    assert mask_text(text) == text
