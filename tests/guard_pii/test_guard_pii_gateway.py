"""guard-pii behind ``beluga serve``: what the upstream receives (a real gateway and a stand-in
OpenAI upstream, both on loopback)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openai", reason="the gateway is driven with the official openai SDK (pip install openai)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gateway"))
from gateway_support import OPENAI_KEY, FakeServer, make_kit, openai_server, sdk, serving, write_config

CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3782 822463 10005", "6011 1111 1111 1117",
         "4012 8888 8888 1881", "4111 1111 1111 1111"]


@pytest.fixture
def upstream() -> Iterator[FakeServer]:
    server = openai_server(OPENAI_KEY)
    yield server
    server.stop()


def send(tmp_path: Path, upstream: FakeServer, text: str) -> None:
    """One chat completion with ``text`` through a gateway whose chain is the PII guard alone."""
    path = write_config(tmp_path / "beluga.toml", f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{upstream.url}"

        [plugins.gateway.models]
        "gpt-4o-mini" = "openai:gpt-4o-mini"
    """, plugins=("guard-pii",))
    with serving(make_kit(path)) as server:
        messages = [{"role": "user", "content": text}]
        resp = sdk(server.url).chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert resp.choices[0].message.content


@pytest.mark.parametrize("n", [5, 6])
def test_the_upstream_never_receives_cards_separated_only_by_spaces(
    tmp_path: Path, upstream: FakeServer, n: int
) -> None:
    send(tmp_path, upstream, "please charge " + " ".join(CARDS[:n]) + " today")
    sent = json.dumps(upstream.last["body"])
    assert sent.count("[CREDIT_CARD]") == n
    for card in CARDS[:n]:
        assert card not in sent and card.replace(" ", "") not in sent.replace(" ", "")


EVASIONS = ["tel:+14155552671", "415-555-2671 ext. 123", "4111\u00a01111\u00a01111\u00a01111",
            "123\u200b45\u200b6789", "４１１１１１１１１１１１１１１１", "order: 5500000000000004",
            "4111:1111:1111:1111", "bob＠example.com", '"bob smith"@example.com', "user@例え.jp"]


def test_the_upstream_never_receives_pii_spelled_with_colons_unicode_or_order_words(
    tmp_path: Path, upstream: FakeServer
) -> None:
    send(tmp_path, upstream, "my details: " + "; ".join(EVASIONS) + ". thanks")
    content = upstream.last["body"]["messages"][0]["content"]
    assert content == (
        "my details: tel:[PHONE]; [PHONE]; [CREDIT_CARD]; [SSN]; [CREDIT_CARD]; order: [CREDIT_CARD]; "
        "[CREDIT_CARD]; [EMAIL]; [EMAIL]; [EMAIL]. thanks"
    )
