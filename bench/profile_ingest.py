"""Where intake spends its time taking dealer reports: py-spy samples the running server
while the load generator saturates it; prints the functions that hold the most samples.

    .venv/bin/python -m bench.profile_ingest [--seconds 20] [--target dealer|bare]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

import uvloop

from bench.run import intake_env, prepared_intake, scratch
from bench.servers import add_server_arguments


def top(collapsed: Path, limit: int) -> str:
    """Own and total samples per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    threads: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        threads[stack.split(";")[0]] += int(count_text)
    lines = [f"{samples} samples", "-- threads --"]
    lines += [f"{100 * c / samples:5.1f}%  {t}" for t, c in threads.most_common(10)]
    lines.append("-- own --")
    lines += [f"{100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(limit)]
    lines.append("-- total --")
    lines += [f"{100 * c / samples:5.1f}%  {f}" for f, c in total.most_common(limit)]
    return "\n".join(lines)


async def profile(arguments: argparse.Namespace) -> str:
    async with scratch(arguments.admin_url, arguments.amqp_url) as place:
        await place.sink()
        url, dealer_id, secret, key_file = await prepared_intake(place)
        port = place.next_port()
        intake = place.start(
            "intake",
            ["-m", "shared.cli.main", "serve", "intake", "--no-migrate"],
            port,
            intake_env(url, port, key_file, 1),
        )
        output = place.directory / "profile.txt"
        spy = subprocess.Popen(  # noqa: ASYNC220 - nothing else runs on this loop meanwhile
            [
                str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                str(intake.process.pid), "--duration", str(arguments.seconds), "--rate", "200",
                "--format", "raw", "--output", str(output), "--nonblocking", "--threads",
            ]
        )  # fmt: skip
        subprocess.run(  # noqa: ASYNC221 - nothing else runs on this loop meanwhile
            [
                sys.executable, "-m", "bench.loadgen", "--port", str(port), "--target", "dealer",
                f"--dealer-id={dealer_id}", f"--secret={secret}", "--mode", "closed",
                "--seconds", str(arguments.seconds), "--warmup", "0",
            ],
            check=True,
        )  # fmt: skip
        spy.wait()
        if arguments.keep:
            # py-spy's collapsed stacks, for reading by another grouping than the one below.
            Path(arguments.keep).write_bytes(output.read_bytes())  # noqa: ASYNC240 - as above
        return top(output, arguments.limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--keep", help="also write py-spy's raw samples to this file")
    print(uvloop.run(profile(parser.parse_args())))


if __name__ == "__main__":
    main()
