"""Storage URLs: which forms are accepted, how a password is masked, how a cluster URL is recognised."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

#: One Redis server (or a Sentinel-fronted primary behind one address), plain, TLS or a unix socket.
SERVER_SCHEMES = ("redis", "rediss", "unix")
#: A Redis Cluster, plain or TLS: any node's address; the client discovers the others.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
#: Every Redis form a storage setting accepts.
REDIS_SCHEMES = SERVER_SCHEMES + CLUSTER_SCHEMES

#: The forms, for error messages and setting help.
REDIS_FORMS = "'redis://[user:password@]host:port/db' (also rediss://, unix://) or 'redis+cluster://host:port'"
URL_FORMS = f"'memory://' or {REDIS_FORMS}"


def scheme_of(url: str) -> str:
    """The URL's scheme, lower case ("" when it has none)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def mask_url(url: str) -> str:
    """``redis://user:secret@host:6379/0`` → ``redis://user:***@host:6379/0``: safe to log and show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable storage url>"
    if parts.password is None and "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    masked = (f"{user}:***" if user or ":" in userinfo else "***") + "@" + hostport
    return urlunsplit((parts.scheme, masked, parts.path, parts.query, parts.fragment))


def is_cluster_url(url: str) -> bool:
    """True for ``redis+cluster://`` and ``rediss+cluster://``."""
    return scheme_of(url) in CLUSTER_SCHEMES


def client_url(url: str) -> str:
    """The URL redis-py understands: ``redis+cluster://h:p`` → ``redis://h:p`` (the client class says cluster)."""
    scheme = scheme_of(url)
    if scheme in CLUSTER_SCHEMES:
        return scheme.removesuffix("+cluster") + url[len(scheme) :]
    return url


def check_url(url: str, *, memory: bool = True) -> None:
    """Raise ``ValueError`` naming the accepted forms unless ``url`` is one of them (password masked).

    ``memory`` accepts ``memory://`` too (every plugin with a Redis storage also keeps one in memory).
    A cluster URL names one node (``host:port``) and database 0 only: Redis Cluster has no others.
    """
    scheme = scheme_of(url)
    allowed = (("memory",) if memory else ()) + REDIS_SCHEMES
    if scheme not in allowed:
        raise ValueError(f"must be {URL_FORMS if memory else REDIS_FORMS}, got {mask_url(url)!r}")
    if scheme in CLUSTER_SCHEMES:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"a cluster URL is {scheme}://host:port, got {mask_url(url)!r}") from None
        if not parts.hostname or port is None:
            raise ValueError(f"a cluster URL names one node as {scheme}://host:port, got {mask_url(url)!r}")
        if parts.path.strip("/") not in ("", "0"):
            raise ValueError(f"Redis Cluster has only database 0, got {mask_url(url)!r}")
    elif scheme in SERVER_SCHEMES:
        try:
            urlsplit(url).port  # noqa: B018 - parsing it is the check
        except ValueError:
            raise ValueError(f"the port of {mask_url(url)!r} is not a number") from None


def _check_storage(_: Any, __: Any, value: str) -> None:
    check_url(value)


def storage_setting(shared: str = "shared") -> Any:
    """The ``storage`` setting of a plugin that keeps state: ``memory://`` by default or a Redis URL,
    checked when the config loads and shown with its password masked. ``shared`` says what Redis
    gives that plugin (in its help text)."""
    return attrs.field(
        default="memory://",
        validator=_check_storage,
        repr=lambda v: repr(mask_url(v)),
        metadata={
            "help": "memory:// (this process), redis://[:password@]host:port/db or redis+cluster://host:port "
            f"({shared}); shown masked",
            "secret": True,
            "min": None,
            "max": None,
            "choices": None,
        },
    )


__all__ = [
    "CLUSTER_SCHEMES",
    "REDIS_FORMS",
    "REDIS_SCHEMES",
    "SERVER_SCHEMES",
    "URL_FORMS",
    "check_url",
    "client_url",
    "is_cluster_url",
    "mask_url",
    "scheme_of",
    "storage_setting",
]
