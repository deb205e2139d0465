"""Seeds from several public parts, joined in one canonical text (after RFC 3797, section 4).

So that no single person chooses the seed, it may be given as parts read out in public (numbers
drawn by the notary, a drand round's randomness, a lottery result). The parts are joined as RFC
3797 joins its sources:

- a part made only of whole numbers (separated by spaces or commas) becomes those numbers sorted
  in ascending order, written in decimal without leading zeros, each followed by a period:
  ``"47 2 12"`` -> ``"2.12.47."`` (the order in which balls were drawn does not matter);
- any other part is trimmed, inner runs of white space become one space, and a period follows it:
  ``" drand  round 4200000 "`` -> ``"drand round 4200000."``;
- each part is followed by a slash, in the order given: parts ``["47 2 12", "9319"]`` give the
  seed ``"2.12.47./9319./"``.

A text part may not contain a slash or a line break, which would make the join ambiguous.
"""

from __future__ import annotations

import re

from seats.io.errors import InputError, Problem

_NUMBERS = re.compile(r"^\s*\d+(?:[\s,]+\d+)*\s*$", re.ASCII)  # ASCII digits only


def canonical_part(part: str, position: int = 1) -> str:
    if _NUMBERS.match(part):
        numbers = sorted(int(n) for n in re.split(r"[\s,]+", part.strip(), flags=re.ASCII))
        return "".join(f"{n}." for n in numbers)
    text = " ".join(part.split())
    if not text:
        raise InputError(Problem("--seed-part", None, str(position), "the seed part is empty"))
    if "/" in text or "\n" in part or "\r" in part:
        raise InputError(
            Problem(
                "--seed-part",
                None,
                str(position),
                f"seed part {text!r} may not contain '/' or a line break",
            )
        )
    return f"{text}."


def canonical_seed(parts: list[str] | tuple[str, ...]) -> str:
    """The seed text made from public parts, in the documented canonical form."""
    if not parts:
        raise InputError(Problem("--seed-part", None, None, "no seed parts given"))
    return "".join(f"{canonical_part(p, i)}/" for i, p in enumerate(parts, start=1))
