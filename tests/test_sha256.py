"""The compiled SHA-256 of the lottery numbers against hashlib, through OpenSSL's SHA-256 from
compiled code and through the pure-numba fallback, and both paths of the digests against each
other (the same bytes whichever path hashes them)."""

from __future__ import annotations

import hashlib

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seats.lottery import numbers, sha256
from seats.lottery.numbers import lottery_message, multiple_digests, single_digests
from seats.lottery.sha256 import sha256_many

texts = st.text(min_size=0, max_size=150)  # up to three blocks, any Unicode


@pytest.fixture(params=["openssl", "numba"])
def kernel(request, monkeypatch):
    """Each test below runs with OpenSSL's SHA-256 and again with the pure-numba fallback."""
    if request.param == "openssl" and sha256.LIBCRYPTO is None:
        pytest.skip("no working libcrypto on this machine")
    if request.param == "numba":
        monkeypatch.setattr(sha256, "LIBCRYPTO", None)
    return request.param


def test_libcrypto_is_checked_before_use():
    assert not sha256._libcrypto_works("/nonexistent/libcrypto.so")
    if sha256.LIBCRYPTO is not None:
        assert sha256._libcrypto_works(sha256.LIBCRYPTO)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(texts, min_size=1, max_size=5), st.lists(texts, min_size=1, max_size=5), st.data())
def test_sha256_many_is_hashlib(kernel, heads, tails, data):
    n = data.draw(st.integers(0, 40))
    head_of = np.array(data.draw(st.lists(st.integers(0, len(heads) - 1), min_size=n, max_size=n)))
    tail_of = np.array(data.draw(st.lists(st.integers(0, len(tails) - 1), min_size=n, max_size=n)))
    got = sha256_many(heads, head_of.astype(np.int64), tails, tail_of.astype(np.int64))
    want = b"".join(
        hashlib.sha256((heads[h] + tails[t]).encode()).digest()
        for h, t in zip(head_of.tolist(), tail_of.tolist(), strict=True)
    )
    assert got == want


def test_every_padding_length(kernel):
    """Messages of 0..200 bytes cross every padding case (55, 56, 63, 64 bytes, ...)."""
    tails = ["x" * k for k in range(201)]
    got = sha256_many(["s\n"], np.zeros(201, np.int64), tails, np.arange(201))
    assert got == b"".join(hashlib.sha256(("s\n" + t).encode()).digest() for t in tails)


def test_every_length_split_every_way(kernel):
    """Every message of 0..200 bytes, cut into head and tail at several points."""
    message = bytes(range(33, 127)) * 3
    heads, tails, want = [], [], []
    for length in range(201):
        for cut in {0, length // 3, length // 2, length}:
            heads.append(message[:cut].decode())
            tails.append(message[cut:length].decode())
            want.append(hashlib.sha256(message[:length]).digest())
    index = np.arange(len(heads), dtype=np.int64)
    assert sha256_many(heads, index, tails, index) == b"".join(want)


def test_one_thread_and_all_threads_agree(kernel):
    """Several parallel chunks of messages: the same bytes on 1 thread as on all of them."""
    n = 3 * sha256._CHUNK + 17
    tails = [f"A{k:07d}" for k in range(n)]
    heads = ["2026-demo\n", "2026-demo\nP01\n", "种子\n"]
    head_of = np.arange(n, dtype=np.int64) % 3
    tail_of = np.arange(n, dtype=np.int64)[::-1].copy()
    every = sha256_many(heads, head_of, tails, tail_of)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = sha256_many(heads, head_of, tails, tail_of)
    finally:
        numba.set_num_threads(threads)
    assert one == every
    assert every[-32:] == hashlib.sha256((heads[head_of[-1]] + tails[0]).encode()).digest()


def test_compiled_and_hashlib_paths_agree(kernel, monkeypatch):
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
