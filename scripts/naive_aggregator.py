#!/usr/bin/env python3
"""The usage report an operator would write by hand, as the yardstick for tokentally's speed.

It reads gateway logs in tokentally's own format (plain or gzip, told apart by magic bytes),
decodes every line with `json.loads`, and keeps in plain dicts the counters an operator would
want per day, ISO week and month (UTC): requests, successes, failures, input, output, cached and
reasoning tokens, web searches and cost, keyed by (bucket, model, provider, api key), plus every
latency per (day, model) for p50/p90/p99 by sorting. It prints a JSON summary at the end.

It is deliberately simple and unoptimised: no redaction, no rejects by reason, no retention,
no sketches, no atomic files. Used by scripts/bench-compare; not part of tokentally.

    python3 scripts/naive_aggregator.py FILE...
"""

import gzip
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone

COUNTERS = (
    "requests",
    "succeeded",
    "failed",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "web_search_calls",
    "cost_usd",
)


def open_log(path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def parse_ts(value):
    if isinstance(value, (int, float)):
        seconds = value if value < 1e11 else value / 1000
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def main(paths):
    counters = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    latencies = defaultdict(list)
    lines = rejected = 0
    for path in paths:
        with open_log(path) as log:
            for line in log:
                lines += 1
                try:
                    record = json.loads(line)
                    when = parse_ts(record["ts"])
                    key, model, provider = record["api_key"], record["model"], record["provider"]
                except (ValueError, KeyError, TypeError):
                    rejected += 1
                    continue
                day = when.strftime("%Y-%m-%d")
                iso = when.isocalendar()
                buckets = (day, f"{iso[0]}-W{iso[1]:02d}", when.strftime("%Y-%m"))
                status = record.get("status", 200)
                ok = status is True or status in ("success", "ok") or (
                    isinstance(status, int) and 200 <= status < 300
                )
                for bucket in buckets:
                    c = counters[(bucket, model, provider, key)]
                    c["requests"] += 1
                    c["succeeded" if ok else "failed"] += 1
                    c["input_tokens"] += record.get("input_tokens", 0)
                    c["output_tokens"] += record.get("output_tokens", 0)
                    c["cached_tokens"] += record.get("cached_tokens", 0)
                    c["reasoning_tokens"] += record.get("reasoning_tokens", 0)
                    c["web_search_calls"] += record.get("web_search_calls", 0)
                    c["cost_usd"] += float(record.get("cost_usd", 0))
                if "latency_ms" in record:
                    latencies[(day, model)].append(record["latency_ms"])

    percentiles = {}
    for (day, model), values in latencies.items():
        values.sort()
        n = len(values)
        percentiles[f"{day} {model}"] = [values[min(n - 1, int(q * n))] for q in (0.5, 0.9, 0.99)]
    total = dict.fromkeys(COUNTERS, 0)
    for (bucket, _, _, _), c in counters.items():
        if len(bucket) == 10:  # days only, so each request counts once
            for name in COUNTERS:
                total[name] += c[name]
    json.dump(
        {"lines": lines, "rejected": rejected, "cells": len(counters), "totals": total,
         "latency_percentiles": len(percentiles)},
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
