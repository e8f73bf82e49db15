"""Virtual API keys and model routing, compiled once per configuration.

Keys are kept only as SHA-256 digests. A presented key is hashed, its digest looked up, and the
match confirmed with ``hmac.compare_digest``: the lookup is over SHA-256 outputs, which a caller
cannot steer toward a stored digest without knowing a key, so timing reveals nothing useful.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Mapping

import attrs

from beluga_core import Config, parse_target
from beluga_gateway.plugin import GatewaySettings, KeySettings

#: The metric label of every model name (or guard) the configuration does not name, so that
#: callers cannot grow the number of metric series by sending new names.
OTHER_LABEL = "other"


def hash_key(key: str) -> str:
    """The hex SHA-256 of ``key``: what ``key_sha256`` in ``[plugins.gateway] keys`` holds."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@attrs.frozen(slots=True)
class Caller:
    """Who is calling: the project they bill to and the models they may use (empty: all)."""

    project: str
    name: str
    models: tuple[str, ...] = ()

    def may_use(self, model: str) -> bool:
        if not self.models:
            return True
        return any(m == model or fnmatch.fnmatchcase(model, m) for m in self.models)


@attrs.frozen(slots=True)
class Route:
    """Where a public model name goes: a provider (section name) and the model to ask it for."""

    public: str
    provider: str
    model: str | None
    kind: str  # the provider type (openai, anthropic, echo, ...): decides which fields pass through


class GatewayState:
    """Everything the request path needs from one configuration: keys, routes, settings."""

    def __init__(self, config: Config) -> None:
        settings = config.plugin_settings("gateway")
        self.settings: GatewaySettings = settings if isinstance(settings, GatewaySettings) else GatewaySettings()
        self.config = config
        #: A [plugins.gateway] section the core could not validate (the plugin is deselected): its keys
        #: are unknown, so every key is refused rather than the gateway left open.
        self.unvalidated = settings is not None and not isinstance(settings, GatewaySettings)
        self.auth = bool(self.settings.keys) or self.unvalidated
        self._keys: dict[bytes, tuple[bytes, Caller]] = {}
        for i, k in enumerate(self.settings.keys):
            digest = _digest_of(k)
            self._keys[digest] = (digest, Caller(k.project, k.name or f"key{i}", tuple(k.models)))
        self.anonymous = Caller(self.settings.default_project, "anonymous")
        self.default_provider = config.beluga.provider
        self.routes: dict[str, Route] = {}
        for public, target in self.settings.models.items():
            provider, model = parse_target(target)
            self.routes[public] = Route(public, provider, model, self._kind(provider))
        self._default_kind = self._kind(self.default_provider)
        self.passthrough = frozenset(self.settings.passthrough)
        self.timeout = float(self.settings.timeout)
        self.max_body = self.settings.max_body_bytes
        self.body_timeout = float(self.settings.body_timeout)
        key = self.settings.metrics_key
        self.metrics_key_digest = hashlib.sha256(key.encode("utf-8")).digest() if key else None
        #: Model names that get a metric series of their own: the ``models`` table's public names,
        #: or without one the default model. Any other name is counted as ``other``.
        self.labels = frozenset(self.routes) or frozenset(name for name, _ in self.model_names(self.anonymous))

    def _kind(self, provider: str) -> str:
        pc = self.config.providers.get(provider)
        return (pc.type if pc is not None and pc.type else provider) or provider

    def authenticate(self, presented: str | None) -> Caller | None:
        """The caller a presented key belongs to, or None (no keys configured: everyone is anonymous)."""
        if not self.auth:
            return self.anonymous
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        entry = self._keys.get(digest)
        if entry is None or not hmac.compare_digest(entry[0], digest):
            return None
        return entry[1]

    def authenticate_headers(
        self, headers: Mapping[bytes, bytes], *, prefer_api_key: bool = False
    ) -> tuple[Caller | None, str | None]:
        """The caller of a request's headers and the key it presented: ``Authorization: Bearer KEY``
        (any Authorization header wins over ``x-api-key``), or with ``prefer_api_key`` (Anthropic's
        clients) ``x-api-key`` first."""
        auth = headers.get(b"authorization")
        bearer = None
        if auth is not None:
            text = auth.decode("latin-1")
            bearer = text[7:].strip() if text[:7].lower() == "bearer " else None
        raw = headers.get(b"x-api-key")
        api_key = raw.decode("latin-1").strip() if raw is not None else None
        if prefer_api_key:
            key = api_key if api_key is not None else bearer
        else:
            key = bearer if auth is not None else api_key
        return self.authenticate(key or None), key

    def route(self, model: str) -> Route | None:
        """The route of a requested model name (None: not offered by this gateway)."""
        if self.routes:
            return self.routes.get(model)
        return Route(model, self.default_provider, model or None, self._default_kind)

    def model_label(self, public: str) -> str:
        """The ``model`` metric label of a requested public name: bounded by the configuration."""
        return public if public in self.labels else OTHER_LABEL

    def model_names(self, caller: Caller) -> list[tuple[str, str]]:
        """(public name, owner) of every model ``caller`` may use, for ``GET /v1/models``."""
        if self.routes:
            return [(r.public, r.provider) for r in self.routes.values() if caller.may_use(r.public)]
        beluga = self.config.beluga
        model = beluga.model or self.config.provider_config(beluga.provider).model or beluga.provider
        return [(model, beluga.provider)] if caller.may_use(model) else []


def _digest_of(k: KeySettings) -> bytes:
    if k.key_sha256 is not None:
        return bytes.fromhex(k.key_sha256)
    assert k.key is not None
    return hashlib.sha256(k.key.encode("utf-8")).digest()


class StateCache:
    """``GatewayState`` of the Kit's current config, rebuilt only when the config object changes."""

    def __init__(self) -> None:
        self._entry: tuple[Config, GatewayState] | None = None

    def get(self, config: Config) -> GatewayState:
        entry = self._entry
        if entry is None or entry[0] is not config:
            entry = (config, GatewayState(config))
            self._entry = entry  # one attribute write: readers see the old or the new pair
        return entry[1]


__all__ = ["OTHER_LABEL", "Caller", "GatewayState", "Route", "StateCache", "hash_key"]
