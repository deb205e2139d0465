"""SHA-256 (FIPS 180-4) of many short messages in compiled code, for the lottery numbers.

A national lottery hashes half a million to a few million messages of a few dozen bytes; in
Python each ``hashlib`` call costs about 1.5 us of call overhead against some 70 ns of
hashing. Here message ``i`` is ``heads[head_of[i]] + tails[tail_of[i]]`` (the heads are the
seed prefixes ``seed + "\\n"`` or ``seed + "\\n" + school_id + "\\n"``, the tails the
applicant ids, each encoded once), hashed in a ``prange`` loop that writes only its own rows,
so the digests are the same for any thread count. :func:`sha256_many` is checked against
``hashlib`` in tests/test_sha256.py on random messages of every length up to several blocks.

Two kernels give the same bytes. Where the OpenSSL library that ``hashlib`` itself uses can be
found (:data:`LIBCRYPTO`), the loop calls its ``SHA256_Init/Update/Final`` directly from
compiled code, declared as external symbols (not ctypes pointers, so ``cache=True`` holds):
OpenSSL picks the CPU's SHA extensions (SHA-NI) where there are any, some 70 ns a message
against about 400 ns for the pure-numba SHA-256 below, which is kept as the fallback. (Its
one-shot ``SHA256()`` is not used: in OpenSSL 3.0 it fetches an EVP digest per call, 450-560 ns.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os

import llvmlite.binding
import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from seats.io.jit import JIT, PARALLEL

_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint64,
)  # fmt: skip
_H0 = np.array(
    [
        0x6A09E667,
        0xBB67AE85,
        0x3C6EF372,
        0xA54FF53A,
        0x510E527F,
        0x9B05688C,
        0x1F83D9AB,
        0x5BE0CD19,
    ],
    dtype=np.uint64,
)
_MASK = np.uint64(0xFFFFFFFF)
_CHUNK = 4096  # messages per parallel task: one scratch buffer each


@numba.njit(cache=True, nogil=True, inline="always")
def _rotr(x, n):
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _MASK


@numba.njit(cache=True, nogil=True)
def _compress(state, w):
    """One 64-byte block (its 16 big-endian words in w[:16]) into the 8-word state."""
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint64(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint64(10))
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & _MASK
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(64):
        s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ ((~e & _MASK) & g)
        t1 = (h + s1 + ch + _K[t] + w[t]) & _MASK
        s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        maj = (a & b) ^ (a & c) ^ (b & c)
        t2 = (s0 + maj) & _MASK
        h, g, f, e = g, f, e, (d + t1) & _MASK
        d, c, b, a = c, b, a, (t1 + t2) & _MASK
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK
    state[4] = (state[4] + e) & _MASK
    state[5] = (state[5] + f) & _MASK
    state[6] = (state[6] + g) & _MASK
    state[7] = (state[7] + h) & _MASK


@numba.njit(cache=True, nogil=True)
def _hash_one(head, head_lo, head_n, tail, tail_lo, tail_n, state, w, buffer, out, row):
    """SHA-256 of head[head_lo:+head_n] + tail[tail_lo:+tail_n] into out[row]: the message
    is copied once into ``buffer`` and padded there (0x80, zeros, bit length)."""
    length = head_n + tail_n
    n_blocks = (length + 9 + 63) // 64
    for k in range(head_n):
        buffer[k] = head[head_lo + k]
    for k in range(tail_n):
        buffer[head_n + k] = tail[tail_lo + k]
    buffer[length] = 0x80
    end = n_blocks * 64
    for k in range(length + 1, end - 8):
        buffer[k] = 0
    bits = length * 8
    for j in range(8):
        buffer[end - 1 - j] = (bits >> (8 * j)) & 0xFF
    for k in range(8):
        state[k] = _H0[k]
    for b in range(n_blocks):
        base = 64 * b
        for t in range(16):
            w[t] = (
                (np.uint64(buffer[base + 4 * t]) << np.uint64(24))
                | (np.uint64(buffer[base + 4 * t + 1]) << np.uint64(16))
                | (np.uint64(buffer[base + 4 * t + 2]) << np.uint64(8))
                | np.uint64(buffer[base + 4 * t + 3])
            )
        _compress(state, w)
    for k in range(8):
        for j in range(4):
            out[row, 4 * k + j] = (state[k] >> np.uint64(24 - 8 * j)) & np.uint64(0xFF)


@numba.njit(**JIT)
def _longest(ptr):
    """The longest text of a packed list (text i is ptr[i]:ptr[i + 1])."""
    longest = 0
    for i in range(ptr.shape[0] - 1):
        longest = max(longest, ptr[i + 1] - ptr[i])
    return longest


@numba.njit(**PARALLEL)
def _sha256_many(head, head_ptr, head_of, tail, tail_ptr, tail_of, out):
    n = head_of.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    longest, widest = _longest(head_ptr), _longest(tail_ptr)
    size = (longest + widest + 9 + 63) // 64 * 64
    for c in numba.prange(n_chunks):
        state = np.empty(8, dtype=np.uint64)
        w = np.empty(64, dtype=np.uint64)
        buffer = np.empty(size, dtype=np.int64)
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            h, t = head_of[i], tail_of[i]
            _hash_one(
                head, head_ptr[h], head_ptr[h + 1] - head_ptr[h],
                tail, tail_ptr[t], tail_ptr[t + 1] - tail_ptr[t],
                state, w, buffer, out, i,
            )  # fmt: skip


# --- OpenSSL's SHA-256, called from compiled code ------------------------------------------

_CONTEXT_WORDS = 32  # a SHA256_CTX is 112 bytes (28 words) in OpenSSL 1.1 and 3.x; room to spare


def _libcrypto_candidates() -> list[str]:
    """The libcrypto that ``hashlib`` is linked to (read off /proc/self/maps once ``_hashlib``
    is loaded), then whatever the system's linker would find."""
    found = []
    try:
        import _hashlib  # noqa: F401  (loads libcrypto into this process)

        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if path.startswith("/") and os.path.basename(path).startswith("libcrypto"):
                    found.append(path)
    except (ImportError, OSError):
        pass
    name = ctypes.util.find_library("crypto")
    if name:
        found.append(name)
    return list(dict.fromkeys(found))


def _libcrypto_works(path: str) -> bool:
    """Whether the library at ``path`` has SHA256_Init/Update/Final and they give hashlib's
    digests (a message of one block and one of three, through ctypes: microseconds)."""
    try:
        library = ctypes.CDLL(path)
        init, update, final = (library.SHA256_Init, library.SHA256_Update, library.SHA256_Final)
    except (OSError, AttributeError):
        return False
    update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    for message in (b"abc", bytes(range(150))):
        context = ctypes.create_string_buffer(4 * _CONTEXT_WORDS)
        digest = ctypes.create_string_buffer(32)
        if not (init(context) and update(context, message, len(message))):
            return False
        if not final(digest, context) or digest.raw != hashlib.sha256(message).digest():
            return False
    return True


def _find_libcrypto() -> str | None:
    """The path of a working libcrypto, made visible to numba's linker; None if there is none
    (then the pure-numba kernel hashes)."""
    for path in _libcrypto_candidates():
        if _libcrypto_works(path):
            try:
                llvmlite.binding.load_library_permanently(path)
            except RuntimeError:
                continue
            return path
    return None


# Declared by name: the compiled code links against the symbols of whatever library is loaded
# (see _find_libcrypto), so numba can cache it.
_sha256_init = types.ExternalFunction("SHA256_Init", types.intc(types.voidptr))
_sha256_update = types.ExternalFunction(
    "SHA256_Update", types.intc(types.voidptr, types.voidptr, types.size_t)
)
_sha256_final = types.ExternalFunction("SHA256_Final", types.intc(types.voidptr, types.voidptr))


@intrinsic
def _address(typingctx, array, index):
    """The address of ``array.flat[index]`` (a C-contiguous array) as a ``void *``."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.bitcast(builder.gep(data, [args[1]]), cgutils.voidptr_t)

    return types.voidptr(array, types.intp), codegen


@numba.njit(**JIT)
def _openssl_one(head, head_lo, head_n, tail, tail_lo, tail_n, context, buffer, out, row):
    """OpenSSL's SHA-256 of head[head_lo:+head_n] + tail[tail_lo:+tail_n] into
    out[32 * row:+32] (out flat), the message copied into ``buffer`` first."""
    for k in range(head_n):
        buffer[k] = head[head_lo + k]
    for k in range(tail_n):
        buffer[head_n + k] = tail[tail_lo + k]
    _sha256_init(_address(context, 0))
    _sha256_update(_address(context, 0), _address(buffer, 0), head_n + tail_n)
    _sha256_final(_address(out, 32 * row), _address(context, 0))


@numba.njit(**PARALLEL)
def _openssl_sha256_many(head, head_ptr, head_of, tail, tail_ptr, tail_of, out):
    n = head_of.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    longest, widest = _longest(head_ptr), _longest(tail_ptr)
    for c in numba.prange(n_chunks):
        context = np.empty(_CONTEXT_WORDS, dtype=np.uint32)
        buffer = np.empty(longest + widest + 1, dtype=np.uint8)
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            h, t = head_of[i], tail_of[i]
            _openssl_one(
                head, head_ptr[h], head_ptr[h + 1] - head_ptr[h],
                tail, tail_ptr[t], tail_ptr[t + 1] - tail_ptr[t],
                context, buffer, out, i,
            )  # fmt: skip


LIBCRYPTO: str | None = _find_libcrypto()
"""The libcrypto whose SHA-256 :func:`sha256_many` calls, or None: the pure-numba kernel."""


def _packed(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of the texts end to end, with CSR offsets (no Python step per byte). ASCII
    texts (the usual ids) are encoded in one piece, their byte lengths being their lengths."""
    joined = "".join(texts)
    if joined.isascii():
        data = joined.encode("ascii")
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    else:
        encoded = [t.encode() for t in texts]
        data = b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    ptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return np.frombuffer(data, dtype=np.uint8), ptr


def sha256_many(
    heads: list[str], head_of: np.ndarray, tails: list[str], tail_of: np.ndarray
) -> bytes:
    """The 32-byte SHA-256 digests, end to end, of ``heads[head_of[i]] + tails[tail_of[i]]``
    for every i (texts as UTF-8)."""
    head, head_ptr = _packed(heads)
    tail, tail_ptr = _packed(tails)
    head_of = np.ascontiguousarray(head_of, dtype=np.int64)
    tail_of = np.ascontiguousarray(tail_of, dtype=np.int64)
    if len(head_of) == 0:
        return b""
    if LIBCRYPTO is not None:
        out = np.empty(32 * len(head_of), dtype=np.uint8)
        _openssl_sha256_many(head, head_ptr, head_of, tail, tail_ptr, tail_of, out)
    else:
        out = np.empty((len(head_of), 32), dtype=np.uint8)
        _sha256_many(head, head_ptr, head_of, tail, tail_ptr, tail_of, out)
    return out.tobytes()
