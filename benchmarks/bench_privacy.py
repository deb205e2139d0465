"""How fast a public list can be unmasked by enumerating applicant ids, before and after.

Before (the list of commit f94ee1b): every row showed the masked id and the lottery number
SHA-256(seed + "\\n" + id); the seed is public after the draw, so an outsider who enumerates the
id space and hashes each candidate finds every row's id. Measured here for the embedded id format
(PA21-00000..99999) and for synthetic national id numbers (杏花岭区 region 140107, a year of birth
dates, every sequence number, with the ISO 7064 check digit): 365,000 candidates.

After (seats.supervision.publish): no id and no number is published; a row is keyed by
SHA-256 of the family's 80-bit registration code. Enumerating ids finds nothing to compare with;
the only way in is to guess codes, whose cost is measured here as SHA-256 per second.

Also measured: how many applicants share the digits of each published cutoff.

    python benchmarks/bench_privacy.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import tempfile
import time
from pathlib import Path

from seats.io.model import embedded_dataset
from seats.lottery.run import RunOptions, run_lottery
from seats.supervision.publish import cutoff_digits
from seats.supervision.run_record import read_rows

SEED = "3.8.17.29.41./"
REGION = "140107"  # 太原市杏花岭区
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def national_id(base17: str) -> str:
    check = "10X98765432"[sum(int(d) * w for d, w in zip(base17, WEIGHTS, strict=True)) % 11]
    return base17 + check


def national_ids() -> list[str]:
    start = dt.date(2014, 9, 1)
    days = [(start + dt.timedelta(days=k)).strftime("%Y%m%d") for k in range(365)]
    return [national_id(f"{REGION}{day}{seq:03d}") for day in days for seq in range(1000)]


def number(applicant: str) -> str:
    return hashlib.sha256(f"{SEED}\n{applicant}".encode()).hexdigest()


def unmask(published: set[str], candidates) -> tuple[int, float]:
    """Rows whose id an outsider recovers by hashing every candidate id; seconds taken."""
    began = time.perf_counter()
    found = sum(1 for c in candidates if number(c) in published)
    return found, time.perf_counter() - began


def main() -> None:
    data = embedded_dataset()
    ids = [r["applicant_id"] for r in read_rows(data / "applicants_primary_2021.csv")]
    print(f"{len(ids):,} primary applicants, seed {SEED!r}")

    published = {number(a) for a in ids}
    found, seconds = unmask(published, (f"PA21-{k:05d}" for k in range(100_000)))
    print(
        f"before, ids PA21-00000..99999: {found:,} of {len(ids):,} rows unmasked in {seconds:.2f} s"
    )

    space = national_ids()
    people = random.Random(12).sample(space, len(ids))
    published = {number(p) for p in people}
    found, seconds = unmask(published, space)
    print(
        f"before, {len(space):,} national ids (one region, a year of birth dates): "
        f"{found:,} of {len(ids):,} rows unmasked in {seconds:.2f} s"
    )

    # After: nothing in the list is a function of the id alone.
    found, seconds = unmask(set(), (f"PA21-{k:05d}" for k in range(100_000)))
    print(f"after, ids PA21-00000..99999: {found} rows unmasked ({seconds:.2f} s of hashing)")
    began, count = time.perf_counter(), 1_000_000
    for k in range(count):
        hashlib.sha256(b"seats row\n%016d" % k).digest()
    rate = count / (time.perf_counter() - began)
    years = 2**80 / len(ids) / rate / 3.156e7
    print(
        f"after, guessing 80-bit codes: {rate:,.0f} SHA-256/s here; one row of {len(ids):,} "
        f"found after {years:.1e} years on average ({years * rate / 1e10:.1e} years at 1e10/s)"
    )

    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        run_lottery(
            data / "schools.csv",
            data / "applicants_primary_2021.csv",
            run,
            RunOptions(seed=SEED, level="primary", fallback="nearest"),
            policy_path=data / "policy_primary.toml",
            zones_path=data / "zones.csv",
        )
        numbers = [r["lottery_number"] for r in read_rows(run / "assignments.csv")]
        digits = cutoff_digits(len(numbers))
        shares = [
            sum(1 for n in numbers if n.startswith(r["cutoff_lottery_number"][:digits]))
            for r in read_rows(run / "schools.csv")
            if int(r["seats_left"]) <= 0 and int(r["waitlist"]) > 0
        ]
    print(
        f"cutoffs: {digits} hex digits published; applicants sharing them per full school: "
        f"min {min(shares)}, max {max(shares)} ({len(shares)} schools)"
    )


if __name__ == "__main__":
    main()
