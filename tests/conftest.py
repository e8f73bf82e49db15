"""Shared fixtures: isolated Kits, a real redis-server on a free loopback port, a three-node Redis Cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

pytest_plugins = ["beluga_core.testing"]

# CI runs the property tests on a fixed set of examples, so a landing does not hang on what one
# random draw found; runs elsewhere explore new examples each time (and keep failures in
# .hypothesis/ to replay them). `.ci/run` sets HYPOTHESIS_PROFILE=ci.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with no plugin-selection or override variables from the outer shell."""
    for var in list(os.environ):
        if var.startswith("BELUGA_"):
            monkeypatch.delenv(var, raising=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A real redis-server on 127.0.0.1, which tests may stop and start again on the same port."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"FLUSHALL\r\n")
            s.recv(16)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server for the session. Skipped locally without the binary; CI installs it (fails there)."""
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs it with apt-get")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    server = RedisServer(binary, free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's redis-server (restarted if a test killed it)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


class RedisCluster:
    """Three real cluster-mode redis-servers on 127.0.0.1 (no replicas), their slots spread by
    ``redis-cli --cluster create``. ``node(i)`` may be stopped and started again on the same ports."""

    def __init__(self, binary: str, cli: str, workdir: Path, size: int = 3) -> None:
        self.binary = binary
        self.cli = cli
        self.workdir = workdir
        self.ports = [free_port() for _ in range(size)]
        self.bus_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size

    @property
    def url(self) -> str:
        """A URL of one node; redis-py's cluster client discovers the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.ports]

    def start_node(self, i: int) -> None:
        node_dir = self.workdir / f"node-{i}"
        node_dir.mkdir(exist_ok=True)
        self.procs[i] = subprocess.Popen(
            [self.binary, "--port", str(self.ports[i]), "--cluster-port", str(self.bus_ports[i]),
             "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no", "--dir", str(node_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait(lambda: self._command(self.ports[i], b"PING").startswith(b"+PONG"), f"node {i} did not start")

    def stop_node(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
            self.procs[i] = None

    def start(self) -> None:
        for i in range(len(self.ports)):
            self.start_node(i)
        subprocess.run(
            [self.cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        self._wait(self.ready, "the cluster did not reach state ok")

    def ready(self) -> bool:
        return all(b"cluster_state:ok" in self._command(p, b"CLUSTER INFO") for p in self.ports)

    def stop(self) -> None:
        for i in range(len(self.ports)):
            self.stop_node(i)

    def flush(self) -> None:
        for i, port in enumerate(self.ports):
            if self.procs[i] is not None:
                self._command(port, b"FLUSHALL")

    @staticmethod
    def _command(port: int, command: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(command + b"\r\n")
                return s.recv(65536)
        except OSError:
            return b""

    @staticmethod
    def _wait(check: Any, what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise RuntimeError(what)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A three-node Redis Cluster for the session (same skip/fail rule as ``redis_server``)."""
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    cli = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if binary is None or cli is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server/redis-cli are not installed; .ci/run installs them with apt-get")
        pytest.skip("redis-server/redis-cli not installed (apt-get install redis-server)")
    cluster = RedisCluster(binary, cli, tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    """A clean Redis Cluster (nodes a test stopped are started again); the URL of one node."""
    for i, proc in enumerate(redis_cluster.procs):
        if proc is None or proc.poll() is not None:
            redis_cluster.start_node(i)
    RedisCluster._wait(redis_cluster.ready, "the cluster did not reach state ok")
    redis_cluster.flush()
    return redis_cluster.url
