"""The roll as an institution writes it: a CSV file with a ``person`` column.

Read the same way by the institution's command (``urne roll import``, on its
own machine) and by the issuer's import (``urne.ledger.issuance.roll``), so
both refuse the same files and name the same line.

- UTF-8, a byte order mark allowed; any dialect Python's ``csv`` reads;
- the first line is a header naming exactly one ``person`` column (any case,
  surrounding blanks ignored); other columns are ignored;
- every following line names one person. An empty line, or a line whose
  ``person`` cell is empty, is refused with its line number: a roll with a
  hole in it is more likely a broken export than a choice. Empty lines at the
  very end of the file (an editor's trailing newlines) are not rows.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from urne.verifier.errors import FormatError

__all__ = ["RollFileError", "read_roll_csv"]


class RollFileError(FormatError):
    """The file is not a roll: no ``person`` header, an empty row, not UTF-8."""

    code = "bad_roll_csv"


def read_roll_csv(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """``(line number, person cell)`` for every row, in file order; the cells
    are as written (the issuer checks each person)."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            names = [h.strip().lower() for h in header or []]
            if names.count("person") != 1:
                raise RollFileError(
                    f"{p}: the first line must be a header with one 'person' column, got {header!r}"
                )
            col = names.index("person")
            rows: list[tuple[int, str]] = []
            empty: list[int] = []  # empty lines not yet followed by a row
            for row in reader:
                line = reader.line_num
                cell = row[col].strip() if col < len(row) else ""
                if not any(c.strip() for c in row):
                    empty.append(line)
                    continue
                if empty:
                    raise RollFileError(f"{p}, line {empty[0]}: an empty line in the roll")
                if not cell:
                    raise RollFileError(f"{p}, line {line}: no person in the 'person' column")
                rows.append((line, row[col]))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RollFileError(f"{p} is not a UTF-8 CSV file: {exc}") from exc
    return rows
