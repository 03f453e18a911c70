"""Every ```python block of docs/sdks/python.md runs, in order, in one namespace, against a
fresh dev server (SCAIVAULT_URL / SCAIVAULT_TOKEN set), so the page cannot rot."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from vaultserver import Server, start_dev_server

PAGE = Path(__file__).resolve().parents[3] / "docs" / "sdks" / "python.md"


def python_blocks(text: str) -> list[tuple[int, str]]:
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        line = text[: match.start()].count("\n") + 2
        blocks.append((line, match.group(1)))
    return blocks


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_dev_server(tmp_path_factory.mktemp("docs"))
    yield srv
    srv.stop()


def test_every_python_block_of_the_page_runs(
    docs_server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert PAGE.is_file(), PAGE
    blocks = python_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 20
    monkeypatch.setenv("SCAIVAULT_URL", docs_server.url)
    monkeypatch.setenv("SCAIVAULT_TOKEN", docs_server.token)
    for var in ("SCAIVAULT_TENANT_ID", "SCAIVAULT_PARTNER_ID"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), logging.getLogger("scaivault").level
    namespace: dict[str, object] = {"__name__": "docs"}
    try:
        for line, code in blocks:
            try:
                exec(compile(code, f"{PAGE.name}:{line}", "exec"), namespace)  # noqa: S102
            except Exception as exc:  # pragma: no cover - the message is the point
                raise AssertionError(f"the block at {PAGE.name}:{line} failed: {exc!r}") from exc
    finally:
        root.handlers[:] = handlers
        logging.getLogger("scaivault").setLevel(level)
    out = capsys.readouterr().out
    assert "secret_not_found 404" in out
    assert "verified evt_1" in out
    shown = [line for line in out.splitlines() if line.startswith("Secret(")]
    assert shown and "data=<redacted>" in shown[0] and "s3cr3t" not in shown[0]


README = PAGE.parents[2] / "README.md"


def test_the_readme_quickstart_runs(
    docs_server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The repository README's Python quickstart, as printed there."""
    assert README.is_file(), README
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1, "the README shows one Python quickstart"
    monkeypatch.setenv("SCAIVAULT_URL", docs_server.url)
    monkeypatch.setenv("SCAIVAULT_TOKEN", docs_server.token)
    line, code = blocks[0]
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme"})  # noqa: S102
    out = capsys.readouterr().out
    # The version depends on what the page's examples wrote before; the keys come back sorted.
    version, *keys = out.split()
    assert version.isdigit() and keys == ["['password',", "'username']"], out
