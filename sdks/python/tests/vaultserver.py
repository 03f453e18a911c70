"""Starting real ScaiVault servers for the tests. A missing binary fails, never skips."""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import scaivault

STARTUP_TIMEOUT = 60.0


def scaivault_bin() -> str:
    """SCAIVAULT_BIN, else the ``scaivault`` next to this interpreter (the installed wheel's),
    else the one on PATH. Fails when there is none."""
    explicit = os.environ.get("SCAIVAULT_BIN")
    if explicit:
        assert Path(explicit).is_file(), f"SCAIVAULT_BIN={explicit} does not exist"
        return explicit
    beside = Path(sys.executable).parent / "scaivault"
    if beside.is_file():
        return str(beside)
    found = shutil.which("scaivault")
    assert found, "no scaivault binary: install the wheel or set SCAIVAULT_BIN"
    return found


def _read_banner(stream: IO[str], what: str, prefix: str) -> str:
    """Reads ``stream`` line by line until a line containing ``prefix``; returns that line."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{what}: no {prefix!r} line within {STARTUP_TIMEOUT}s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"{what}: exited before printing {prefix!r}")
        if prefix in line:
            return line.strip()


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[str]
    data_dir: Path

    def client(self, token: str | None = None, **kwargs: object) -> scaivault.Client:
        return scaivault.Client(self.url, token or self.token, **kwargs)  # type: ignore[arg-type]

    def async_client(self, token: str | None = None, **kwargs: object) -> scaivault.AsyncClient:
        return scaivault.AsyncClient(self.url, token or self.token, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_dev_server(tmp: Path, *extra: str) -> Server:
    token = "skt_" + secrets.token_hex(16)
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            scaivault_bin(),
            "server",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--dev-root-token",
            token,
            "--data-dir",
            str(data),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = _read_banner(process.stdout, "dev server", "listening on")
    except AssertionError:
        process.kill()
        raise AssertionError((tmp / "server.log").read_text()[-2000:]) from None
    url = line[line.index("http") :].split()[0]
    return Server(url, token, process, data)


def start_prod_server(tmp: Path) -> Server:
    """A production-mode server whose identities may make 2 requests/s (burst 3)."""
    config = tmp / "scaivault.toml"
    config.write_text(
        "\n".join(
            [
                'listen = "127.0.0.1:0"',
                "allow_plain_http = true",
                f'data_dir = "{tmp / "data"}"',
                f'root_key_file = "{tmp / "root.key"}"',
                "[rate_limits]",
                "identity = { per_second = 2, burst = 3 }",
                "",
            ]
        )
    )
    init = subprocess.run(
        [scaivault_bin(), "operator", "init", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = next(
        word
        for line in init.stdout.splitlines()
        for word in line.split()
        if word.startswith("skt_")
    )
    log = open(tmp / "server.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [scaivault_bin(), "server", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    line = _read_banner(process.stdout, "production server", "listening on")
    url = line[line.index("http") :].split()[0]
    return Server(url, token, process, tmp / "data")
