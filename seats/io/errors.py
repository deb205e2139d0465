"""Problems found in input files, reported as ``file:line: column: what is wrong``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one place of one input file."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column:
            return f"{where}: {self.column}: {self.message}"
        return f"{where}: {self.message}"


SHOWN_PROBLEMS = 200  # a file wrong on every line is said in a screenful, not 16,000 lines


class InputError(Exception):
    """Bad input: carries every problem found, not just the first (its text shows the first
    SHOWN_PROBLEMS and counts the rest)."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        shown = [str(p) for p in self.problems[:SHOWN_PROBLEMS]]
        if len(self.problems) > SHOWN_PROBLEMS:
            rest = len(self.problems) - SHOWN_PROBLEMS
            shown.append(f"... and {rest:,} more problems (the first {SHOWN_PROBLEMS} are shown)")
        super().__init__("\n".join(shown))


class Problems(list):
    """A collector that validators append to; `raise_if_any` turns it into an InputError."""

    def add(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.append(Problem(file, line, column, message))

    def raise_if_any(self) -> None:
        if self:
            raise InputError(list(self))
