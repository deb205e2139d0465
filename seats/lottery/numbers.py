"""Lottery numbers (the contract of DESIGN.md): lowercase hex SHA-256 of
``seed + "\\n" + applicant_id`` (single tie-break) or ``seed + "\\n" + school_id + "\\n" +
applicant_id`` (multiple), and the seed's well-formedness."""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np

from seats.io.errors import InputError, Problem


def lottery_message(seed: str, applicant_id: str, school_id: str | None = None) -> str:
    """The text whose SHA-256 is the lottery number (what a parent feeds to sha256sum)."""
    if school_id is None:
        return f"{seed}\n{applicant_id}"
    return f"{seed}\n{school_id}\n{applicant_id}"


def lottery_number(seed: str, applicant_id: str, school_id: str | None = None) -> str:
    return hashlib.sha256(lottery_message(seed, applicant_id, school_id).encode()).hexdigest()


def _digests(messages) -> bytes:
    return b"".join(hashlib.sha256(m.encode()).digest() for m in messages)


# From this many messages on, hash in compiled code (seats.lottery.sha256, OpenSSL's SHA-256
# where libcrypto is found): hashlib costs about 0.6 us a message in a loop, the compiled path
# about 0.1 us with packing, plus 20-160 ms to load the cached kernel in a fresh process
# (benchmarks/bench_numbers.py). Below it, hashlib is cheaper. Both give the same bytes.
COMPILED_FROM = 50_000


def single_digests(seed: str, applicant_ids: list[str]) -> bytes:
    """The single-form digests (32 bytes each) of these applicants, end to end."""
    if len(applicant_ids) < COMPILED_FROM:
        return _digests(lottery_message(seed, a) for a in applicant_ids)
    from seats.lottery.sha256 import sha256_many  # numba: only where it pays

    n = len(applicant_ids)
    return sha256_many([f"{seed}\n"], np.zeros(n, np.int64), applicant_ids, np.arange(n))


def multiple_digests(
    seed: str,
    school_ids: list[str],
    school: np.ndarray,
    applicant_ids: list[str],
    applicant: np.ndarray,
) -> bytes:
    """The multiple-form digests of the pairs (school[i], applicant[i]), end to end."""
    if len(school) < COMPILED_FROM:
        return _digests(
            lottery_message(seed, applicant_ids[a], school_ids[s])
            for a, s in zip(applicant.tolist(), school.tolist(), strict=True)
        )
    from seats.lottery.sha256 import sha256_many

    heads = [f"{seed}\n{s}\n" for s in school_ids]
    return sha256_many(heads, school, applicant_ids, applicant)


def _rank_digests(digests: bytes) -> np.ndarray:
    """Rank of each 32-byte digest in ascending (= hex string) order; ties are impossible for
    distinct messages, but are still refused so that the order is always total."""
    words = np.frombuffer(digests, dtype=">u8").reshape(-1, 4)
    # The leading 64 bits order distinct digests except with odds of about n^2 / 2^65; only
    # then are all four words needed.
    order = np.argsort(words[:, 0])
    ordered = words[order]
    if (ordered[1:, 0] == ordered[:-1, 0]).any():
        order = np.lexsort(words.T[::-1])
        ordered = words[order]
        if (ordered[1:] == ordered[:-1]).all(axis=1).any():
            raise ValueError("two lottery numbers are equal: are two applicant ids the same?")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def check_seed(seed: str) -> None:
    """Refuse a seed that is not already in its canonical form: one line of NFC text, no
    compatibility characters (full-width digits, ideographic spaces), no invisible characters,
    words separated by one space, nothing around them. Look-alike spellings of one seed give
    different draws, so accepting them would let an operator shop for a draw; refusing them
    (naming the character) keeps one spelling per seed."""
    if not seed or not seed.strip():
        raise InputError(Problem("--seed", None, None, "the seed is empty"))
    if "\n" in seed or "\r" in seed:
        raise InputError(
            Problem(
                "--seed",
                None,
                None,
                "the seed must be one line (a newline would make lottery numbers ambiguous)",
            )
        )
    problem = seed_problem(seed)
    if problem:
        raise InputError(Problem("--seed", None, None, problem))


def _character(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


def seed_problem(seed: str) -> str | None:
    """Why `seed` is not canonical, naming the first offending character; None if it is."""
    for position, char in enumerate(seed, start=1):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return (
                f"the seed holds the control or invisible character {_character(char)} at "
                f"character {position}: write it in plain text"
            )
    if unicodedata.normalize("NFC", seed) != seed:
        changed = [
            (i, c)
            for i, c in enumerate(seed, 1)
            if unicodedata.combining(c) or unicodedata.normalize("NFC", c) != c
        ]
        position, char = changed[0] if changed else (1, seed[0])
        return (
            f"the seed is not in Unicode NFC form: {_character(char)} at character {position}; "
            "type the accented letter as one character"
        )
    for position, char in enumerate(seed, start=1):
        if unicodedata.normalize("NFKC", char) != char:
            plain = unicodedata.normalize("NFKC", char)
            return (
                f"the seed holds {_character(char)} at character {position}, a look-alike of "
                f"{plain!r}: write {plain!r}"
            )
    if seed != seed.strip(" "):
        where = "start" if seed[0] == " " else "end"
        return f"the seed has a space at its {where}: remove it"
    for position, char in enumerate(seed, start=1):
        if char.isspace() and char != " ":
            return f"the seed holds {_character(char)} at character {position}: use a plain space"
    double = seed.find("  ")
    if double >= 0:
        return f"the seed has two spaces at character {double + 1}: use one"
    return None
