"""Lottery numbers (the contract of DESIGN.md): lowercase hex SHA-256 of
``seed + "\\n" + applicant_id`` (single tie-break) or ``seed + "\\n" + school_id + "\\n" +
applicant_id`` (multiple), and the seed's well-formedness."""

from __future__ import annotations

import hashlib

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


# From this many messages on, hash in compiled code (seats.lottery.sha256): hashlib pays
# about 1.5 us of call overhead per message. Below it, hashlib costs less than compiling the
# kernel the first time. Both give the same bytes.
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
    if not seed.isprintable():
        raise InputError(
            Problem(
                "--seed",
                None,
                None,
                f"the seed {seed!r} holds a control or undecodable character: write it in "
                "plain text",
            )
        )
