"""Lottery numbers against the SHA-256 bound (issue 15).

    PYTHONPATH=. python benchmarks/bench_numbers.py            # 563,000 messages, best of 7
    PYTHONPATH=. python benchmarks/bench_numbers.py --n 20000  # a quick run

The messages are the lottery's: single form ``seed + "\\n" + applicant_id`` with ids like
``A0000042`` and the seed ``2026-demo`` (18 bytes, one SHA-256 block), and multiple form
``seed + "\\n" + school_id + "\\n" + applicant_id`` for n (school, applicant) pairs over 8,000
schools (24 bytes). Paths timed on the same packed arrays:

- bound: OpenSSL's SHA256_Init/Update/Final in a C loop (gcc -O2, linked to the libcrypto that
  hashlib uses) over the same messages laid out 64 bytes apart, on one thread; the bound for
  the machine is that time divided by the number of cores (perfect scaling, no copying of the
  message, no Python). Skipped without a C compiler or OpenSSL headers.
- hashlib: ``seats.lottery.numbers._digests``, one ``hashlib.sha256`` call per message (what
  ``single_digests`` does below ``COMPILED_FROM``), messages built as str as there.
- numba SHA-256: the pure-numba kernel (the fallback, and the path before issue 15).
- OpenSSL from numba: the kernel that calls libcrypto from compiled code, on all threads and on 1.
- ``single_digests`` / ``multiple_digests``: the public functions, encoding and packing included.

Warm figures are the best (and worst) of ``--repeat`` calls. First-call figures come from fresh
processes on a warm numba cache: the kernel's first call as the first numba function the
process loads, and again after one other cached function was loaded (numba's one-time set-up
apart). The bench asserts that every path gives hashlib's bytes.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from seats.lottery import numbers, sha256

SEED = "2026-demo"
N_SCHOOLS = 8_000

C_BOUND = r"""
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
                          return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {  /* messages file, repeats; prints best seconds */
    FILE *f = fopen(argv[1], "rb"); int repeat = atoi(argv[2]);
    fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *text = malloc(size); if (fread(text, 1, size, f) != (size_t)size) return 1;
    long n = 0; for (long k = 0; k < size; k++) n += text[k] == 0;
    unsigned char *msg = calloc(n, 64), *out = malloc(n * 32); int *len = malloc(n * sizeof(int));
    long start = 0, i = 0;
    for (long k = 0; k < size; k++) if (text[k] == 0) {
        len[i] = k - start; memcpy(msg + 64 * i, text + start, len[i]); start = k + 1; i++; }
    double best = 1e9;
    for (int r = 0; r < repeat; r++) {
        double t = now();
        for (long j = 0; j < n; j++) { SHA256_CTX c; SHA256_Init(&c);
            SHA256_Update(&c, msg + 64 * j, len[j]); SHA256_Final(out + 32 * j, &c); }
        t = now() - t; if (t < best) best = t;
    }
    fwrite(out, 1, n * 32, stdout); fprintf(stderr, "%.9f\n", best); return 0;
}
"""

FIRST_CALL = r"""
import sys, time
import numpy as np
kernel, n, other = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from seats.lottery import numbers, sha256
if other:
    sys.path.insert(0, other)
    import other_kernel
    other_kernel.total(np.arange(3))
ids = [f"A{k:07d}" for k in range(n)]
if kernel == "numba":
    sha256.LIBCRYPTO = None
t = time.perf_counter()
numbers.single_digests("2026-demo", ids)
first = time.perf_counter() - t
t = time.perf_counter()
numbers.single_digests("2026-demo", ids)
print(first, time.perf_counter() - t)
"""


def best_of(repeat, call):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), max(times), result


def c_bound(messages: list[bytes], repeat: int, workdir: Path):
    """(best seconds, digests) of the C loop, or None without a compiler or headers."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or sha256.LIBCRYPTO is None:
        return None
    source, binary, data = workdir / "bound.c", workdir / "bound", workdir / "messages"
    source.write_text(C_BOUND)
    library = Path(sha256.LIBCRYPTO)
    build = [compiler, "-O2", "-o", str(binary), str(source), str(library)]
    if subprocess.run(build, capture_output=True).returncode != 0:
        return None
    data.write_bytes(b"".join(m + b"\0" for m in messages))
    done = subprocess.run([str(binary), str(data), str(repeat)], capture_output=True, check=True)
    return float(done.stderr), done.stdout


OTHER_KERNEL = """
import numba

@numba.njit(cache=True)
def total(a):
    return a.sum()
"""


def first_calls(kernel: str, n: int, other: str, runs: int = 3):
    """Best (first call, second call) of fresh processes; with ``other`` (a folder holding
    other_kernel.py), after loading that cached function first."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_CALL, kernel, str(n), other],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONPATH=os.getcwd()),
        ).stdout
        results.append(tuple(map(float, out.split())))
    return min(results)


def measure_form(form, heads, head_of, tails, tail_of, public, repeat, workdir):
    """{path: (best, worst)} for messages heads[head_of[i]] + tails[tail_of[i]]; asserts that
    every path gives hashlib's bytes."""
    n, cores = len(head_of), os.cpu_count() or 1
    texts = [heads[h] + tails[t] for h, t in zip(head_of.tolist(), tail_of.tolist(), strict=True)]
    want = b"".join(hashlib.sha256(text.encode()).digest() for text in texts)
    head, head_ptr = sha256._packed(heads)
    tail, tail_ptr = sha256._packed(tails)
    arrays = (head, head_ptr, head_of, tail, tail_ptr, tail_of)

    def pure():
        out = np.empty((n, 32), dtype=np.uint8)
        sha256._sha256_many(*arrays, out)
        return out.tobytes()

    def openssl():
        out = np.empty(32 * n, dtype=np.uint8)
        sha256._openssl_sha256_many(*arrays, out)
        return out.tobytes()

    def openssl_one_thread():
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return openssl()
        finally:
            numba.set_num_threads(threads)

    timed = {}
    bound = c_bound([t.encode() for t in texts], repeat, workdir)
    if bound is not None:
        assert bound[1] == want, "C loop"
        timed["bound: C loop, 1 thread"] = (bound[0], bound[0])
        timed[f"bound: C loop / {cores} cores"] = (bound[0] / cores, bound[0] / cores)
    paths = [
        ("hashlib, one call per message", functools.partial(numbers._digests, texts), 3),
        ("numba SHA-256 (before)", pure, repeat),
    ]
    if sha256.LIBCRYPTO is not None:
        paths += [
            ("OpenSSL from numba, 1 thread", openssl_one_thread, repeat),
            (f"OpenSSL from numba, {numba.get_num_threads()} threads", openssl, repeat),
        ]
    paths.append((f"{form}_digests (public, packing included)", public, repeat))
    for name, call, times in paths:
        call()  # compile or load
        best, worst, got = best_of(times, call)
        assert got == want, name
        timed[name] = (best, worst)
    return timed


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=563_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, repeat = args.n, args.repeat
    load_before = os.getloadavg()
    cores = os.cpu_count() or 1
    print(
        f"# {platform.processor() or platform.machine()}, {cores} cores, numba {numba.__version__}"
    )
    print(f"# libcrypto: {sha256.LIBCRYPTO}; numba threads {numba.get_num_threads()}")
    print(f"# load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")

    ids = [f"A{k:07d}" for k in range(n)]
    school_ids = [f"S{k:04d}" for k in range(N_SCHOOLS)]
    school = (np.arange(n, dtype=np.int64) * 7919) % N_SCHOOLS
    applicant = np.arange(n, dtype=np.int64)
    forms = {
        "single": ([f"{SEED}\n"], np.zeros(n, np.int64), ids, applicant),
        "multiple": ([f"{SEED}\n{s}\n" for s in school_ids], school, ids, applicant),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for form, (heads, head_of, tails, tail_of) in forms.items():
            if form == "single":
                public = functools.partial(numbers.single_digests, SEED, ids)
            else:
                public = functools.partial(
                    numbers.multiple_digests, SEED, school_ids, school, ids, applicant
                )
            timed = measure_form(form, heads, head_of, tails, tail_of, public, repeat, Path(tmp))
            rows.append((form, timed))

        (Path(tmp) / "other_kernel.py").write_text(OTHER_KERNEL)
        first_calls("numba", 10, tmp, runs=1)  # compile and cache other_kernel.total
        first = {}
        for kernel in ["openssl", "numba"] if sha256.LIBCRYPTO else ["numba"]:
            for other_first in (False, True):
                first[kernel, other_first] = first_calls(kernel, n, tmp if other_first else "")
    load_after = os.getloadavg()

    print(f"\n{n:,} messages, warm, best (worst) of {repeat} calls; hashlib best of 3\n")
    bound_key = f"bound: C loop / {cores} cores"
    print("| form | path | time | x bound |")
    print("|---|---|---|---|")
    for form, timed in rows:
        bound = timed.get(bound_key, (None,))[0]
        for name, (best, worst) in timed.items():
            ratio = f"{best / bound:.2f}" if bound else "-"
            spread = "" if name.startswith("bound") else f" ({ms(worst)})"
            print(f"| {form} | {name} | {ms(best)}{spread} | {ratio} |")
    print("\nFirst call of single_digests in a fresh process (warm numba cache), best of 3:\n")
    print("| kernel | loaded first | first call | second call | first - second |")
    print("|---|---|---|---|---|")
    for kernel in ["openssl", "numba"]:
        for other_first in (False, True):
            if (kernel, other_first) in first:
                one, two = first[kernel, other_first]
                where = "after another cached function" if other_first else "first numba function"
                print(f"| {kernel} | {where} | {ms(one)} | {ms(two)} | {ms(one - two)} |")
    print(f"\n# load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print("# all paths gave hashlib's bytes")


if __name__ == "__main__":
    main()
