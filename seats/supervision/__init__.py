"""Supervision: verify a run folder (chain, digests, byte-identical re-run), explain one
applicant's result, the public list (公示名单) and the supervisor's report (PDF).

The top library room: may import from :mod:`seats.io`, :mod:`seats.lottery` and
:mod:`seats.classes`; nothing imports from it but the CLI and the demo.
"""
