"""Benchmark: broker accounts on Mosquitto's dynamic-security plugin, at fleet size.

(``bench/enrolment.py`` times one device's whole enrolment; this one times the broker side.)
Against real brokers in a temporary directory (on disk, as in production), with N accounts:
  (a) N accounts created through ``DynsecAccounts`` (the center's path) by concurrent callers,
      as N devices enrolling at once would;
  (b) the raw limit: one client sending the same createClient commands straight to the plugin
      of a fresh broker, every message published at once (pipelined), nothing waited for;
  (c) revocation: from ``disable()`` to the connected device's socket closing, p50/p99 over
      ``--tries`` devices, with N accounts in the broker, and while (a) runs;
  (d) the size of the plugin's file with N accounts.
Progress lines every 1,000 accounts. Mosquitto 2.0 rewrites the whole file after every
command, so (a) and (b) grow with N squared.

Usage: .venv/bin/python bench/broker_accounts.py [--devices 10000] [--callers 64] [--tries 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from control_center.broker.dynsec import (  # noqa: E402
    CONTROL_TOPIC,
    RESPONSE_TOPIC,
    DynsecAccounts,
    DynsecOptions,
)
from firmware_sim.broker import MosquittoBroker  # noqa: E402

PROGRESS_EVERY = 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Progress:
    """Counts confirmed accounts; prints a line every 1,000."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.done = 0
        self.started = time.perf_counter()
        self._cond = threading.Condition()

    def add(self, count: int = 1) -> None:
        with self._cond:
            before, self.done = self.done, self.done + count
            if before // PROGRESS_EVERY != self.done // PROGRESS_EVERY or self.done == self.total:
                print(f"bench: {self.label} {self.done:>6,}/{self.total:,} accounts "
                      f"{time.perf_counter() - self.started:7.1f} s", flush=True)
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.done >= self.total, timeout)


def accounts_client(broker: MosquittoBroker, max_batch: int) -> DynsecAccounts:
    kwargs: dict[str, Any] = {"max_batch": max_batch} if max_batch else {}
    client = DynsecAccounts(DynsecOptions(
        host=broker.host, port=broker.center_port, username="center",
        password=broker.center_password, client_id="bench-accounts", **kwargs))
    client.start()
    deadline = time.monotonic() + 10
    while not client.connected:
        if time.monotonic() > deadline:
            raise RuntimeError("the accounts client did not connect")
        time.sleep(0.01)
    return client


def enrol_through_center(client: DynsecAccounts, names: list[str], callers: int) -> float:
    """(a): ``callers`` threads, each creating its share of ``names``; seconds for all."""
    progress = Progress("(a) center", len(names))
    errors: list[BaseException] = []

    def work(share: list[str]) -> None:
        for name in share:
            try:
                client.create(name, f"pw-{name}")
            except BaseException as exc:  # reported below
                errors.append(exc)
                return
            progress.add()

    threads = [threading.Thread(target=work, args=(names[i::callers],), daemon=True)
               for i in range(callers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} callers failed, first: {errors[0]!r}")
    return time.perf_counter() - started


def enrol_raw(broker: MosquittoBroker, names: list[str], per_message: int) -> float:
    """(b): one client, every createClient message published at once; seconds for all."""
    progress = Progress("(b) raw", len(names))
    failures: list[str] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set("center", broker.center_password)
    client.on_connect = lambda c, *_: c.subscribe(RESPONSE_TOPIC, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        responses = json.loads(message.payload)["responses"]
        failures.extend(r["error"] for r in responses if "error" in r)
        progress.add(len(responses))

    client.on_message = on_message
    client.connect(broker.host, broker.center_port)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise RuntimeError("raw client: no SUBACK")
        messages = [json.dumps({"commands": [
            {"command": "createClient", "username": n, "password": f"pw-{n}", "clientid": n}
            for n in names[i:i + per_message]]}) for i in range(0, len(names), per_message)]
        progress.started = started = time.perf_counter()
        for payload in messages:
            client.publish(CONTROL_TOPIC, payload, qos=0)
        if not progress.wait(1800):
            raise RuntimeError(f"raw client: {progress.done} of {len(names)} answered")
        elapsed = time.perf_counter() - started
    finally:
        client.disconnect()
        client.loop_stop()
    if failures:
        raise RuntimeError(f"raw client: {len(failures)} errors, first: {failures[0]}")
    return elapsed


class Device:
    """A connected device (real paho client, client id = device id) that notes when its
    connection closes."""

    def __init__(self, broker: MosquittoBroker, name: str) -> None:
        self.closed_at: float | None = None
        self.closed = threading.Event()
        connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(name, f"pw-{name}")
        self.client.on_connect = lambda *_: connected.set()
        self.client.on_disconnect = lambda *_: self._closed()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not connected.wait(10):
            raise RuntimeError(f"{name} did not connect")

    def _closed(self) -> None:
        self.closed_at = time.perf_counter()
        self.closed.set()
        self.client.disconnect()  # no reconnect: the account is disabled

    def stop(self) -> None:
        self.client.loop_stop()


def revoke(client: DynsecAccounts, device: Device, name: str) -> tuple[float, float]:
    """Milliseconds from ``disable()`` to (its return, the device's socket closing)."""
    started = time.perf_counter()
    client.disable(name)
    returned = time.perf_counter()
    if not device.closed.wait(30):
        raise RuntimeError(f"{name} was not disconnected")
    device.stop()
    assert device.closed_at is not None
    return (returned - started) * 1000, (device.closed_at - started) * 1000


def revocations(client: DynsecAccounts, broker: MosquittoBroker, names: list[str],
                pause: Callable[[], None] = lambda: None) -> list[tuple[float, float]]:
    devices = {n: Device(broker, n) for n in names}
    out = []
    for name, device in devices.items():
        pause()
        out.append(revoke(client, device, name))
    return out


def show(label: str, rows: list[tuple[float, float]]) -> dict[str, float]:
    returned, closed = [r[0] for r in rows], [r[1] for r in rows]
    figures = {"closed_p50_ms": pct(closed, 0.5), "closed_p99_ms": pct(closed, 0.99),
               "closed_max_ms": max(closed), "returned_p50_ms": pct(returned, 0.5)}
    print(f"bench: (c) {label}: socket closed p50 {figures['closed_p50_ms']:.1f} ms, "
          f"p99 {figures['closed_p99_ms']:.1f} ms, max {figures['closed_max_ms']:.1f} ms; "
          f"disable() returned p50 {figures['returned_p50_ms']:.1f} ms", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--callers", type=int, default=64, help="concurrent enrolments")
    parser.add_argument("--batch", type=int, default=0,
                        help="DynsecAccounts max_batch (0: its default)")
    parser.add_argument("--raw-batch", type=int, default=500, help="commands per raw message")
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    n, tries = args.devices, args.tries
    root = Path(tempfile.mkdtemp(prefix="tt-bench-accounts-", dir="/var/tmp"))
    names = [f"loa-{i:05d}" for i in range(n)]
    during = [f"rev-busy-{i:02d}" for i in range(tries)]
    idle = [f"rev-idle-{i:02d}" for i in range(tries)]
    figures: dict[str, Any] = {"devices": n, "callers": args.callers}
    print(f"bench: {n:,} accounts, {args.callers} concurrent callers, work dir {root}",
          flush=True)

    with MosquittoBroker(root / "center-path") as broker:
        client = accounts_client(broker, args.batch)
        figures["max_batch"] = client.options.max_batch
        for name in during + idle:
            client.create(name, f"pw-{name}")
        busy: list[tuple[float, float]] = []
        started = threading.Event()
        spacing = max(0.5, n * 0.004 / tries)  # spread over the enrolment

        def revoke_while_busy() -> None:
            started.wait()
            busy.extend(revocations(client, broker, during, lambda: time.sleep(spacing)))

        side = threading.Thread(target=revoke_while_busy, daemon=True)
        side.start()
        started.set()
        figures["a_s"] = enrol_through_center(client, names, args.callers)
        side.join()
        figures["a_messages"] = client.counters["messages"]
        figures["a_commands"] = client.counters["commands"]
        print(f"bench: (a) {n:,} accounts through DynsecAccounts: {figures['a_s']:.1f} s "
              f"({n / figures['a_s']:.0f}/s; {figures['a_commands']:,} commands in "
              f"{figures['a_messages']:,} messages)", flush=True)
        figures["c_during_enrolment"] = show("while enrolling", busy)
        figures["c_idle"] = show(f"idle, {n:,} accounts", revocations(client, broker, idle))
        figures["d_file_bytes"] = os.path.getsize(broker.dynsec_file)
        print(f"bench: (d) plugin file with {n + 2 * tries:,} accounts: "
              f"{figures['d_file_bytes'] / 1e6:.2f} MB "
              f"({figures['d_file_bytes'] / (n + 2 * tries):.0f} B per account)", flush=True)
        client.stop()

    with MosquittoBroker(root / "raw") as broker:
        figures["b_s"] = enrol_raw(broker, names, args.raw_batch)
    print(f"bench: (b) raw, {n:,} createClient in messages of {args.raw_batch}: "
          f"{figures['b_s']:.1f} s ({n / figures['b_s']:.0f}/s)", flush=True)
    figures["ratio_a_b"] = figures["a_s"] / figures["b_s"]
    print(f"bench: ratio (a)/(b) = {figures['ratio_a_b']:.2f}; goal: {n:,} in 60 s -> "
          f"{'met' if figures['a_s'] <= 60 else 'NOT met'}", flush=True)
    per_save = statistics.fmean([figures["a_s"], figures["b_s"]]) / n * 1000
    print(f"bench: mean cost per createClient {per_save:.1f} ms (the plugin rewrites its "
          "whole file after each)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
