from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("scaivault")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"
