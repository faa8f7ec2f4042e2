"""No test, benchmark or script sends traffic off this machine.

`install()` wraps `socket.socket.connect` (and `connect_ex`, `sendto`) and
`socket.getaddrinfo` (and `gethostbyname`, `gethostbyname_ex`): a connection or a datagram to
an address outside loopback (127.0.0.0/8, ::1), or a name resolved other than `localhost`, is
refused with `OffMachine` and recorded in `attempts`. The suite's autouse fixture fails any
test that made such an attempt, even when the code under test caught the error (webhook calls
do); Celery workers that tests start install it too. A test that needs a name to resolve uses
`stub_resolver`, which answers from a table and never asks the system resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager

attempts: list[str] = []
_original = {}


class OffMachine(AssertionError):
    """A connection or a name lookup that would leave this machine."""


def _loopback(host) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check_address(address) -> None:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like stay on the machine
        return
    host = address[0]
    if not _loopback(host):
        attempts.append(f"connect to {host}")
        raise OffMachine(f"Refused a connection to {host}: tests stay on loopback.")


def _check_name(host) -> None:
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name == "localhost" or _is_literal(name):
        return
    attempts.append(f"resolve {name!r}")
    raise OffMachine(f"Refused to resolve {name!r}: tests use a stub resolver for names.")


def _guarded_getaddrinfo(host, *args, **kwargs):
    _check_name(host)
    return _original["getaddrinfo"](host, *args, **kwargs)


def _guarded_gethostbyname(host):
    _check_name(host)
    return _original["gethostbyname"](host)


def _guarded_gethostbyname_ex(host):
    _check_name(host)
    return _original["gethostbyname_ex"](host)


def _is_literal(host) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


def install() -> None:
    """Guard this process (idempotent)."""
    if _original:
        return
    _original["connect"] = socket.socket.connect
    _original["connect_ex"] = socket.socket.connect_ex
    _original["sendto"] = socket.socket.sendto
    _original["getaddrinfo"] = socket.getaddrinfo
    _original["gethostbyname"] = socket.gethostbyname
    _original["gethostbyname_ex"] = socket.gethostbyname_ex

    def connect(self, address):
        _check_address(address)
        return _original["connect"](self, address)

    def connect_ex(self, address):
        _check_address(address)
        return _original["connect_ex"](self, address)

    def sendto(self, data, *flags_and_address):  # (data, address) or (data, flags, address)
        if flags_and_address:
            _check_address(flags_and_address[-1])
        return _original["sendto"](self, data, *flags_and_address)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.gethostbyname = _guarded_gethostbyname
    socket.gethostbyname_ex = _guarded_gethostbyname_ex


@contextmanager
def stub_resolver(table: dict[str, list[str]]) -> Iterator[list[str]]:
    """Names resolve from `table` (name -> addresses) while this runs; yields the names
    looked up, in order. A name not in the table does not resolve."""
    asked: list[str] = []
    installed = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or _is_literal(name) or name == "localhost":
            return installed(host, port, family, type, proto, flags)
        asked.append(name)
        if name not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        results = []
        for address in table[name]:
            family_ = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (
                (address, port or 0, 0, 0)
                if family_ == socket.AF_INET6
                else (
                    address,
                    port or 0,
                )
            )
            results.append((family_, socket.SOCK_STREAM, 6, "", sockaddr))
        return results

    socket.getaddrinfo = getaddrinfo
    try:
        yield asked
    finally:
        socket.getaddrinfo = installed
