"""Parses a metrics exposition from stdin with the official Prometheus Python client's parsers
and prints its families as JSON: [{"name", "type", "samples": [{"name", "labels", "value"}]}].

Usage: parse.py text|openmetrics. The OpenMetrics parser is strict (it refuses an exposition
without `# EOF`, a counter family named with `_total`, ...), so a parse is a conformance check.
"""

import json
import math
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text


def main() -> None:
    fmt = sys.argv[1]
    data = sys.stdin.read()
    parse = parse_openmetrics if fmt == "openmetrics" else parse_text
    families = []
    for family in parse(data):
        families.append(
            {
                "name": family.name,
                "type": family.type,
                "samples": [
                    {
                        "name": s.name,
                        "labels": s.labels,
                        "value": s.value if math.isfinite(s.value) else str(s.value),
                    }
                    for s in family.samples
                ],
            }
        )
    json.dump(families, sys.stdout)


if __name__ == "__main__":
    main()
