"""A Linux network namespace joined to the root one by a veth pair, for partition tests.

    with isolated_namespace() as ns:
        # ns.host_ip (root side) and ns.agent_ip (inside) share a /30 the test chose;
        # servers listen on ns.host_ip too, the agent runs under ns.command([...])
        ns.cut()      # the link inside the namespace goes down: a partition
        ns.restore()  # and up again

The namespace (and with it both ends of the veth pair) is deleted on exit, even when the
test fails. Needs root, ``ip netns`` and veth; no ``tc netem``. Addresses are taken from
10.213.0.0/16 in /30 blocks not already on an interface of this machine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import random
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

POOL = ipaddress.IPv4Network("10.213.0.0/16")
_seq = itertools.count(1)


class NetnsError(RuntimeError):
    """The namespace or its link could not be made or changed."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip")
    if ip is None:
        raise NetnsError("the ip command is missing: apt-get install iproute2")
    result = subprocess.run([ip, *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result


def _used_addresses() -> set[ipaddress.IPv4Address]:
    out = _ip("-o", "-4", "addr", "show").stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            found.add(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).ip)
    return found


def _free_block() -> ipaddress.IPv4Network:
    used = _used_addresses()
    blocks = list(POOL.subnets(new_prefix=30))
    for block in random.sample(blocks, 64):
        if not any(addr in block for addr in used):
            return block
    raise NetnsError(f"no free /30 left in {POOL}")


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace with one veth link to the root namespace."""

    name: str
    host_if: str
    agent_if: str
    host_ip: str
    agent_ip: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: same pid)."""
        ip = shutil.which("ip") or "ip"
        return [ip, "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Take the namespace's end of the link down: nothing passes either way."""
        _ip("-n", self.name, "link", "set", self.agent_if, "down")

    def restore(self) -> None:
        """Bring the link up again (the addresses stay)."""
        _ip("-n", self.name, "link", "set", self.agent_if, "up")

    @property
    def is_cut(self) -> bool:
        out = _ip("-n", self.name, "-o", "link", "show", self.agent_if).stdout
        flags = out.partition("<")[2].partition(">")[0].split(",")
        return "UP" not in flags


@contextlib.contextmanager
def isolated_namespace(prefix: str = "ttf") -> Iterator[Namespace]:
    """Create the namespace and its veth pair; delete both on exit, whatever happened."""
    tag = f"{os.getpid() % 100000}x{next(_seq)}"
    name = f"{prefix}-{tag}"
    host_if, agent_if = f"vh{tag}"[:15], f"va{tag}"[:15]
    block = _free_block()
    host_ip, agent_ip = (str(block.network_address + i) for i in (1, 2))
    _ip("netns", "add", name)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", agent_if)
        _ip("link", "set", agent_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{agent_ip}/30", "dev", agent_if)
        _ip("-n", name, "link", "set", agent_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield Namespace(name, host_if, agent_if, host_ip, agent_ip)
    finally:
        _ip("netns", "del", name, check=False)  # takes the namespace's end of the pair along
        _ip("link", "del", host_if, check=False)  # gone already unless never moved
