"""The compiled SHA-256 of the lottery numbers against hashlib, and both paths of the
digests against each other (the same bytes whichever path hashes them)."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seats.lottery import numbers
from seats.lottery.numbers import lottery_message, multiple_digests, single_digests
from seats.lottery.sha256 import sha256_many

texts = st.text(min_size=0, max_size=150)  # up to three blocks, any Unicode


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=5), st.lists(texts, min_size=1, max_size=5), st.data())
def test_sha256_many_is_hashlib(heads, tails, data):
    n = data.draw(st.integers(0, 40))
    head_of = np.array(data.draw(st.lists(st.integers(0, len(heads) - 1), min_size=n, max_size=n)))
    tail_of = np.array(data.draw(st.lists(st.integers(0, len(tails) - 1), min_size=n, max_size=n)))
    got = sha256_many(heads, head_of.astype(np.int64), tails, tail_of.astype(np.int64))
    want = b"".join(
        hashlib.sha256((heads[h] + tails[t]).encode()).digest()
        for h, t in zip(head_of.tolist(), tail_of.tolist(), strict=True)
    )
    assert got == want


def test_every_padding_length():
    """Messages of 0..200 bytes cross every padding case (55, 56, 63, 64 bytes, ...)."""
    tails = ["x" * k for k in range(201)]
    got = sha256_many(["s\n"], np.zeros(201, np.int64), tails, np.arange(201))
    assert got == b"".join(hashlib.sha256(("s\n" + t).encode()).digest() for t in tails)


def test_compiled_and_hashlib_paths_agree(monkeypatch):
    ids = [f"PA21-{k:05d}" for k in range(300)] + ["张三", "ｉｄ"]
    schools = ["P01", "小学2"]
    school = np.array([k % 2 for k in range(len(ids))], dtype=np.int64)
    applicant = np.arange(len(ids), dtype=np.int64)
    slow = (
        single_digests("种子 seed", ids),
        multiple_digests("种子 seed", schools, school, ids, applicant),
    )
    monkeypatch.setattr(numbers, "COMPILED_FROM", 1)
    fast = (
        single_digests("种子 seed", ids),
        multiple_digests("种子 seed", schools, school, ids, applicant),
    )
    assert fast == slow
    assert slow[0][:32] == hashlib.sha256(lottery_message("种子 seed", ids[0]).encode()).digest()
