"""Unit tests run offline: any attempt to reach the network fails the test loudly.

The idea of python-telegram-bot's ``OfflineRequest``, one level lower: connecting or
sending on an internet socket, or resolving a host name, raises ``NetworkDisabled``.
It is a ``RuntimeError`` on purpose, so code that retries on ``OSError`` cannot swallow
it. Tests that need a real server belong in tests/integration.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from tests.unit.fakes import FakeClock, FakeStore


class NetworkDisabled(RuntimeError):
    pass


_INTERNET = (socket.AF_INET, socket.AF_INET6)


def _refuse(what: str, target: object) -> NetworkDisabled:
    return NetworkDisabled(
        f"unit tests are offline: {what} {target!r}; use a fake, or move the test to "
        "tests/integration"
    )


def _is_ip_literal(host: object) -> bool:
    if not isinstance(host, str):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in _INTERNET:
            raise _refuse("connect to", address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in _INTERNET:
            raise _refuse("connect to", address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, *args: Any) -> int:
        if self.family in _INTERNET:
            raise _refuse("send to", args[-1])
        return real_sendto(self, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_ip_literal(host):  # a literal needs no DNS
            raise _refuse("resolve", host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()
