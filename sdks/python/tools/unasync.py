"""Generates ``_sync_resources.py`` from ``_async_resources.py`` (the source of truth).

    python tools/unasync.py          # rewrite the sync file
    python tools/unasync.py --check  # exit 1 when it is out of date

The rules are textual and few, so the two files stay line-for-line comparable:
``async def`` -> ``def``, ``async for`` -> ``for``, ``await `` dropped, ``AsyncIterator`` ->
``Iterator``, ``AsyncTransport`` -> ``SyncTransport``, any other ``AsyncName`` -> ``Name``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HEADER = (
    "# GENERATED from _async_resources.py by tools/unasync.py: do not edit by hand.\n"
)


def unasync(source: str) -> str:
    text = source
    text = text.replace("async def ", "def ")
    text = text.replace("async for ", "for ")
    text = text.replace("await ", "")
    text = text.replace("AsyncTransport", "SyncTransport")
    text = re.sub(r"\bAsync([A-Z]\w*)", r"\1", text)
    text = text.replace(
        "The resource groups of :class:`scaivault.AsyncClient`",
        "The resource groups of :class:`scaivault.Client`",
    )
    return HEADER + text


def paths(package: Path) -> tuple[Path, Path]:
    return package / "_async_resources.py", package / "_sync_resources.py"


def main() -> int:
    package = Path(__file__).resolve().parent.parent / "src" / "scaivault"
    source, target = paths(package)
    wanted = unasync(source.read_text(encoding="utf-8"))
    if "--check" in sys.argv[1:]:
        if target.read_text(encoding="utf-8") != wanted:
            print(f"{target} is out of date: run python tools/unasync.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
