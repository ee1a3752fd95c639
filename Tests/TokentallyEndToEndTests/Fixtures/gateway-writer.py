#!/usr/bin/env python3
"""A gateway stand-in for tokentally's rotation tests.

Appends canonical tokentally-format JSON lines to a log file at a steady rate, the way an LLM
gateway writes its request log:

- the file is opened with O_APPEND (so after a copytruncate the next line lands at offset 0);
- now and then a line goes out in two write() calls with a short sleep between them, so a
  reader may see half a line;
- SIGUSR1 (sent by logrotate's postrotate) makes it reopen the path, as a gateway does, after
  a random delay of up to --reopen-delay-ms during which it goes on writing to the renamed
  file; after reopening it creates the --ack file, so the postrotate script can wait until
  the writer has left the renamed file before logrotate compresses it;
- SIGTERM (or SIGINT) stops it after the line in progress.

Every value is a function of (--seed, line number) alone, so several runs with consecutive
--first values write one continuous log. At the end it writes a ledger (JSON) of what it wrote:
the line count and, per UTC day of `ts`, the sum of every counter, costs as exact decimal text.
"""

import argparse
import calendar
import json
import os
import random
import signal
import sys
import time

MODELS = [
    ("anthropic/claude-sonnet-4.5", "amazon-bedrock"),
    ("anthropic/claude-sonnet-4.5", "anthropic"),
    ("openai/gpt-5", "openai"),
    ("openai/gpt-5-mini", "azure"),
    ("google/gemini-2.5-pro", "google-vertex"),
    ("meta/llama-4-maverick", "together"),
]
FAILURE_STATUSES = [400, 408, 429, 500, 502, 503]
DAY_MS = 86_400_000


class Stop(Exception):
    pass


def cost_text(micro_dollars):
    """Exact decimal text of an amount in millionths of a dollar (JSON number grammar)."""
    return "%d.%06d" % (micro_dollars // 1_000_000, micro_dollars % 1_000_000)


def utc_text(epoch_ms):
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % millis


def make_line(seed, number, total, base_ms, days):
    """The line number `number` (0-based) of the log: its bytes, its day and its counters."""
    rng = random.Random(seed * 1_000_003 + number)
    # Timestamps climb over `days` days with up to a second of jitter, as completion times do.
    epoch_ms = base_ms + number * (days * DAY_MS) // max(total, 1) + rng.randrange(1000)
    model, provider = MODELS[rng.randrange(len(MODELS))]
    succeeded = rng.random() >= 0.08
    status = 200 if succeeded else FAILURE_STATUSES[rng.randrange(len(FAILURE_STATUSES))]
    input_tokens = rng.randrange(1, 60_000)
    output_tokens = rng.randrange(0, 4_000) if succeeded else 0
    cached_tokens = rng.randrange(0, input_tokens + 1) if rng.random() < 0.4 else 0
    cost_micro = input_tokens * 3 + output_tokens * 15 - cached_tokens * 2 + rng.randrange(0, 50)
    latency_ms = rng.randrange(80, 60_000)
    record = (
        '{"ts":"%s","request_id":"req-%d-%08d","api_key":"team-%02d","model":"%s","provider":"%s",'
        '"status":%d,"input_tokens":%d,"output_tokens":%d,"cached_tokens":%d,"latency_ms":%d,'
        '"cost_usd":%s}\n'
        % (
            utc_text(epoch_ms), seed, number, rng.randrange(12), model, provider, status,
            input_tokens, output_tokens, cached_tokens, latency_ms, cost_text(cost_micro),
        )
    )
    counters = {
        "requests": 1,
        "succeeded": 1 if succeeded else 0,
        "failed": 0 if succeeded else 1,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached_tokens,
        "cost_micro_usd": cost_micro,
    }
    # Whether this line goes out in two writes, and where it is cut (never at either end).
    split_at = None
    if rng.random() < 0.03:
        split_at = rng.randrange(1, len(record) - 1)
    return record.encode("ascii"), utc_text(epoch_ms)[:10], counters, split_at


def write_all(fd, data):
    while data:
        written = os.write(fd, data)
        data = data[written:]


def write_atomically(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="the log file to append to")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="number of the first line to write")
    parser.add_argument("--lines", type=int, required=True, help="how many lines to write")
    parser.add_argument("--total", type=int, help="lines of the whole log, for the spread of ts (default first+lines)")
    parser.add_argument("--rate", type=float, default=3000.0, help="lines per second")
    parser.add_argument("--base", default="2026-11-25T00:00:00Z", help="ts of line 0 (UTC, whole seconds)")
    parser.add_argument("--days", type=int, default=3, help="days the timestamps of the whole log span")
    parser.add_argument("--split-sleep-ms", type=float, default=3.0, help="pause inside a line written in two parts")
    parser.add_argument("--pid-file", help="written at start, removed at exit")
    parser.add_argument("--ack", help="created after each reopen")
    parser.add_argument("--reopen-delay-ms", type=float, default=150.0, help="most a reopen waits after SIGUSR1")
    parser.add_argument("--ledger", required=True, help="where the ledger of written lines goes (JSON)")
    args = parser.parse_args()

    base_ms = calendar.timegm(time.strptime(args.base, "%Y-%m-%dT%H:%M:%SZ")) * 1000
    total = args.total if args.total is not None else args.first + args.lines

    state = {"reopen": False, "stop": False}
    delays = random.Random(args.seed * 7 + args.first)
    reopen_at = None

    def on_usr1(signum, frame):
        state["reopen"] = True

    def on_stop(signum, frame):
        state["stop"] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    def open_log():
        return os.open(args.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    fd = open_log()
    if args.pid_file:
        write_atomically(args.pid_file, "%d\n" % os.getpid())

    days = {}
    written = 0
    split_writes = 0
    reopens = 0
    started = time.monotonic()

    def reopen():
        nonlocal fd, reopens
        state["reopen"] = False
        old = fd
        fd = open_log()
        os.close(old)
        reopens += 1
        if args.ack:
            with open(args.ack, "w") as handle:
                handle.write("%d\n" % reopens)

    try:
        for offset in range(args.lines):
            if state["stop"]:
                break
            if state["reopen"]:
                if reopen_at is None:
                    reopen_at = time.monotonic() + delays.uniform(0, args.reopen_delay_ms) / 1000.0
                if time.monotonic() >= reopen_at:
                    reopen_at = None
                    reopen()
            number = args.first + offset
            data, day, counters, split_at = make_line(args.seed, number, total, base_ms, args.days)
            if split_at is None:
                write_all(fd, data)
            else:
                write_all(fd, data[:split_at])
                time.sleep(args.split_sleep_ms / 1000.0)
                write_all(fd, data[split_at:])
                split_writes += 1
            written += 1
            sums = days.setdefault(day, dict.fromkeys(counters, 0))
            for name, value in counters.items():
                sums[name] += value
            # Keep to the rate: sleep whenever ahead of schedule.
            ahead = started + written / args.rate - time.monotonic()
            if ahead > 0.001:
                time.sleep(ahead)
        # A rotation signalled after the last line still gets its reopen (and its ack), so
        # a postrotate script waiting for it is not held up.
        if state["reopen"]:
            reopen()
    finally:
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except FileNotFoundError:
                pass
        os.close(fd)

    ledger = {
        "first": args.first,
        "lines_written": written,
        "split_writes": split_writes,
        "reopens": reopens,
        "seconds": round(time.monotonic() - started, 3),
        "days": {
            day: {
                "requests": sums["requests"],
                "succeeded": sums["succeeded"],
                "failed": sums["failed"],
                "input_tokens": sums["input_tokens"],
                "output_tokens": sums["output_tokens"],
                "cached_tokens": sums["cached_tokens"],
                "cost_usd": cost_text(sums["cost_micro_usd"]),
            }
            for day, sums in sorted(days.items())
        },
    }
    write_atomically(args.ledger, json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
