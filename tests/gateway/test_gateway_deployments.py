"""One model name over three stand-in upstreams: spread by strategy, one killed mid-run, nothing lost."""

from __future__ import annotations

import httpx
from gateway_support import ALPHA, OPENAI_KEY, openai_server, sdk


def upstreams_config(servers: list, strategy: str, extra: str = "") -> str:
    sections = "".join(
        f'\n[providers.up{i}]\ntype = "openai"\napi_key = "{OPENAI_KEY}"\nbase_url = "{s.url}"\n'
        for i, s in enumerate(servers)
    )
    targets = ", ".join(f'"up{i}:model-{i}"' for i in range(len(servers)))
    return sections + f'\n[models.fast]\ndeployments = [{targets}]\nstrategy = "{strategy}"\n{extra}'


def test_round_robin_spreads_one_model_over_three_upstreams_and_survives_one_dying(gateway):
    servers = [openai_server() for _ in range(3)]
    try:
        server = gateway(upstreams_config(servers, "round-robin"), plugins=("openai",))
        client = sdk(server.url)
        answered = [client.chat.completions.create(model="fast", messages=[{"role": "user", "content": f"q{i}"}])
                    for i in range(12)]
        assert [len(s.requests) for s in servers] == [4, 4, 4]
        assert {a.model for a in answered} == {"fast"}  # the public name; each upstream got its own model:
        assert [{r["body"]["model"] for r in s.requests} for s in servers] == [{"model-0"}, {"model-1"}, {"model-2"}]
        servers[1].default = lambda h: h.cut()  # killed mid-run: open connections are reset ...
        servers[1].stop()  # ... and nothing listens any more
        more = [client.chat.completions.create(model="fast", messages=[{"role": "user", "content": f"r{i}"}])
                for i in range(12)]
        assert all(a.choices[0].message.content for a in more)  # nothing lost: every call answered
        reached_dead = len(servers[1].requests) - 4  # at most the one call that found it dead
        assert reached_dead <= 1
        assert len(servers[0].requests) + len(servers[2].requests) == 8 + 12
        ready = httpx.get(server.url + "/readyz", timeout=10).json()
        health = {d["target"]: d["healthy"] for d in ready["checks"]["deployments"]["fast"]["deployments"]}
        assert health == {"up0:model-0": True, "up1:model-1": False, "up2:model-2": True}
    finally:
        for s in servers:
            try:
                s.stop()
            except OSError:
                pass


def test_weighted_splits_by_weight_through_the_gateway(gateway):
    servers = [openai_server() for _ in range(3)]
    try:
        weights = 'weights = { "up0:model-0" = 2, "up1:model-1" = 1, "up2:model-2" = 1 }'
        server = gateway(upstreams_config(servers, "weighted", weights), plugins=("openai",))
        client = sdk(server.url, ALPHA)
        for i in range(20):
            client.chat.completions.create(model="fast", messages=[{"role": "user", "content": f"q{i}"}])
        assert [len(s.requests) for s in servers] == [10, 5, 5]
    finally:
        for s in servers:
            s.stop()
