"""The demo's scheduler: stages in worker processes, their text printed in the stages' order."""

import pytest

from seats.demo import Stage, _run_stages


def stages():
    # `list` of a list of lines returns the lines: a stage function a worker can unpickle
    return [
        Stage("first", (), list, (["one", "two"],)),
        Stage("second", ("first",), list, (["three"],), heading="== heading =="),
        Stage("third", (), list, (["four"],)),
        Stage("fourth", ("second", "third"), list, (["five"],)),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_stage_text_is_printed_in_order_whatever_the_workers(workers):
    printed = []
    results = _run_stages(stages(), workers, printed.append)
    assert printed == ["one", "two", "== heading ==", "three", "four", "five"]
    assert results["fourth"] == ["five"]


def test_a_failing_stage_fails_the_demo():
    failing = [Stage("bad", (), int, ("not a number",))]
    with pytest.raises(ValueError):
        _run_stages(failing, 2, print)
