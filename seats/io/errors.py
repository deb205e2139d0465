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


class InputError(Exception):
    """Bad input: carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems(list):
    """A collector that validators append to; `raise_if_any` turns it into an InputError."""

    def add(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.append(Problem(file, line, column, message))

    def raise_if_any(self) -> None:
        if self:
            raise InputError(list(self))
