"""Every number the paper prints, next to ours: ``beetles tables --paper-values``.

The paper's printed values travel with the package,
``beetles/paper/published/paper_printed_values.csv`` (provenance:
``data/reference/README.md``): one row per printed number,
``table,file,column,landmark_or_round,printed``, where ``file`` is the name
(without ``.csv``) of the table ``beetles tables`` writes and
``landmark_or_round`` is a 1-based landmark, ``round k`` (loss tables) or empty
(Table 2).

"Ours" comes from one of three kinds of folder (:func:`folder_values`):

- a folder of the tables ``beetles tables`` or ``experiments/all_tables.py``
  write (``table03_pronotum_distances.csv``, …);
- one experiment's output folder (``results/pronotum_scratch/``: ``run.json``,
  ``distances.csv``, ``comparison.csv``, ``table01_losses.csv``, and
  ``predictions.csv`` for Table 2 when it is there);
- a folder holding experiment folders under the scripts' default names
  (``results/``: ``<part>_scratch/``, ``<part>_finetune/``).

Without a folder, ours are the tables recomputed from the published landmarks
(:func:`published_values`); the loss tables 1, 5, 7 and 9 then stay empty:
they come from training, not from landmarks.

Agreement (:attr:`Row.agreement`).  The paper prints each table with one
number of decimals; the transcription dropped trailing zeros (``4.002`` for
Table 3's 4.0020), so a table's precision is the most decimals among its
printed values (:func:`table_decimals`).  A value agrees (``rounding``) when
ours rounds to the printed one, i.e. ``|ours − printed| ≤ ½`` unit of the last
printed digit (a tie either way).  Where the paper's own number is off by more,
:data:`PAPER_SLIPS` names the value, its tolerance and why (``slip``).
Anything else ``differs``; a value we do not have is ``missing``.
"""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from beetles.core.errors import DataError
from beetles.core.metrics import correlation_scores
from beetles.formats.published import read_paired_csv
from beetles.formats.results import write_table
from beetles.paper.settings import PART_NAMES, published_dir
from beetles.studies.tables import COMPARISON_TABLES, LOSS_TABLES, TABLE4_PARTS, write_paper_tables

#: File name of the printed values, in :func:`beetles.paper.settings.published_dir`.
PRINTED_VALUES_FILE = "paper_printed_values.csv"
#: Columns of the printed-values file.
PRINTED_COLUMNS = ["table", "file", "column", "landmark_or_round", "printed"]
#: Columns of the side-by-side file :func:`write_comparison` writes.
COMPARISON_COLUMNS = ["table", "file", "column", "landmark_or_round", "ours", "printed", "difference", "agreement"]

#: Where the paper's printed number is off from what its own published
#: landmarks give by more than its rounding, one place for all:
#: ``(table, column, landmark_or_round) -> (tolerance in units of the last
#: printed digit, reason)``.
PAPER_SLIPS = {
    ("Table 2", "explained_variance", ""): (
        2, "the published landmarks give 0.9953 (scikit-learn's explained_variance_score); the paper prints 0.9951",
    ),
    ("Table 4", "head", "4"): (
        1, "head landmark 4 from scratch is 5.03457, printed 5.0345: truncated, not rounded",
    ),
    ("Table 4", "head", "5"): (
        1, "head landmark 5 from scratch is 4.83940, printed 4.8393: truncated, not rounded",
    ),
    ("Table 8", "fine_tune", "10"): (
        1, "elytra landmark 10 fine-tuned is 2.4954, printed 2.49: truncated, not rounded",
    ),
}

#: The loss tables: printed file name -> the experiment whose runs give it
#: (its output folder's default name).  They are not in the published
#: landmarks: only a run's ``run.json`` / ``table01_losses.csv`` has them.
LOSS_RUNS = {
    "table01_pronotum_scratch_losses": "pronotum_scratch",  # Table 1
    "table05_pronotum_finetune_losses": "pronotum_finetune",  # Table 5
    "table07_elytra_finetune_losses": "elytra_finetune",  # Table 7
    "table09_head_finetune_losses": "head_finetune",  # Table 9
}
_GATHERED_LOSS_FILES = dict(LOSS_TABLES)  # run name -> the file gather_run_tables writes

#: Key of one value: ``(file, column, landmark_or_round)``.
Key = tuple


@dataclass(frozen=True)
class Printed:
    """One printed number: its table (``"Table 3"``), the ``beetles tables``
    file it belongs to (no ``.csv``), column, landmark or round, and the
    number as printed (a string, so its decimals are kept)."""

    table: str
    file: str
    column: str
    landmark_or_round: str
    printed: str

    @property
    def key(self) -> Key:
        """``(file, column, landmark_or_round)``."""
        return (self.file, self.column, self.landmark_or_round)

    @property
    def value(self) -> Decimal:
        """The printed number, exactly."""
        return Decimal(self.printed)

    @property
    def decimals(self) -> int:
        """Decimals of this printed string (``"4.002"`` → 3)."""
        return max(0, -self.value.as_tuple().exponent)


@dataclass(frozen=True)
class Ours:
    """One of our values (exact decimal) and the file it was read from."""

    value: Decimal
    source: str


@dataclass(frozen=True)
class Row:
    """A printed value beside ours (``None``: we have none); ``decimals`` is
    the printed table's precision."""

    printed: Printed
    decimals: int
    ours: Ours | None

    @property
    def difference(self) -> Decimal | None:
        """``ours − printed``, exactly; ``None`` when ours is missing."""
        return None if self.ours is None else self.ours.value - self.printed.value

    @property
    def slip(self) -> tuple[int, str] | None:
        """The :data:`PAPER_SLIPS` entry of this value, if any."""
        p = self.printed
        return PAPER_SLIPS.get((p.table, p.column, p.landmark_or_round))

    @property
    def agreement(self) -> str:
        """``rounding``, ``slip``, ``differs`` or ``missing`` (module doc)."""
        if self.ours is None:
            return "missing"
        unit = Decimal(1).scaleb(-self.decimals)
        off = abs(self.difference)
        if off <= unit / 2:
            return "rounding"
        if self.slip is not None and off <= self.slip[0] * unit:
            return "slip"
        return "differs"


def printed_values_path() -> Path:
    """The printed-values file installed with beetles."""
    return published_dir() / PRINTED_VALUES_FILE


def read_printed(path=None) -> list[Printed]:
    """Read a printed-values file (default :func:`printed_values_path`);
    gives its rows in file order.  Raises :class:`DataError` on a missing
    file, a wrong header, a number that is not one, or a value given twice."""
    path = Path(path) if path is not None else printed_values_path()
    if not path.is_file():
        raise DataError(f"{path}: file of the paper's printed values not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != PRINTED_COLUMNS:
            raise DataError(f"{path}: header should be {','.join(PRINTED_COLUMNS)}, not {header}")
        rows, seen = [], set()
        for number, cells in enumerate(reader, start=2):
            if len(cells) != len(PRINTED_COLUMNS):
                raise DataError(f"{path}, line {number}: {len(cells)} cells, expected {len(PRINTED_COLUMNS)}")
            row = Printed(*(c.strip() for c in cells))
            try:
                row.value
            except InvalidOperation:
                raise DataError(f"{path}, line {number}: {row.printed!r} is not a number") from None
            if row.key in seen:
                raise DataError(f"{path}, line {number}: {row.key} is given twice")
            seen.add(row.key)
            rows.append(row)
    return rows


def table_decimals(printed: list[Printed]) -> dict[str, int]:
    """Each table's printed precision: the most decimals among its values."""
    decimals: dict[str, int] = {}
    for row in printed:
        decimals[row.table] = max(decimals.get(row.table, 0), row.decimals)
    return decimals


def _number(text: str) -> Decimal | None:
    """A table cell as an exact decimal; ``None`` for an empty cell."""
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _float(value: float) -> Decimal:
    """A float (``run.json``, a computed score) as a decimal of 10 significant digits."""
    return Decimal(f"{value:.10g}")


def read_table(path, file: str) -> dict[Key, Ours]:
    """The values of one table CSV as ``beetles tables`` or the experiments
    write it, keyed as the printed values are: a ``landmark,…`` table by
    landmark, a ``round,…`` table by ``round k``, Table 2's ``metric,score``
    by metric with an empty landmark.  ``file`` is the key's file name."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{path}: empty table")
    header, values = rows[0], {}
    for cells in rows[1:]:
        if not cells:
            continue
        if header[:2] == ["metric", "score"]:
            value = _number(cells[1]) if len(cells) > 1 else None
            if value is not None:
                values[(file, cells[0], "")] = Ours(value, str(path))
            continue
        if header[0] not in ("landmark", "round"):
            raise DataError(f"{path}: not one of the paper's tables (first column {header[0]!r})")
        try:
            index = int(cells[0])
        except ValueError:
            raise DataError(f"{path}: {header[0]} {cells[0]!r} is not a whole number") from None
        key = str(index) if header[0] == "landmark" else f"round {index}"
        for column, cell in zip(header[1:], cells[1:]):
            value = _number(cell)
            if value is not None:
                values[(file, column, key)] = Ours(value, str(path))
    return values


def _table_files(file: str) -> list[str]:
    """File names a table may have in a tables folder: ``<file>.csv`` and, for a
    loss table, the name :func:`beetles.studies.tables.gather_run_tables` gives it."""
    names = [f"{file}.csv"]
    gathered = _GATHERED_LOSS_FILES.get(LOSS_RUNS.get(file))
    if gathered is not None and gathered not in names:
        names.append(gathered)
    return names


def tables_values(folder, files) -> dict[Key, Ours]:
    """Ours from a folder of tables (``beetles tables --out``, ``results/all_tables``):
    every table of ``files`` (printed file names) that is there."""
    folder, values = Path(folder), {}
    for file in files:
        for name in _table_files(file):
            if (folder / name).is_file():
                values.update(read_table(folder / name, file))
                break
    return values


def _stem(file_name: str) -> str:
    """``table06_pronotum.csv`` → ``table06_pronotum``."""
    return file_name[: -len(".csv")] if file_name.endswith(".csv") else file_name


def _rekey(values: dict[Key, Ours], file: str, column_from: str, column_to: str) -> dict[Key, Ours]:
    """``values``' column ``column_from`` filed under ``(file, column_to, …)``."""
    return {(file, column_to, key): ours for (_, column, key), ours in values.items() if column == column_from}


def run_values(folder) -> tuple[dict[Key, Ours], dict[Key, Ours]]:
    """Ours from one experiment's output folder (``run.json`` naming its
    experiment and part).  Gives ``(values, fallback)``: ``fallback`` holds the
    from-scratch column a fine-tuning run copied into its ``comparison.csv``,
    used only where no from-scratch run gives it."""
    folder = Path(folder)
    try:
        run = json.loads((folder / "run.json").read_text())
        experiment, name = run["experiment"], run["part"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{folder / 'run.json'}: not an experiment's run.json ({error})") from None
    values, fallback = {}, {}
    distances = read_table(folder / "distances.csv", "distances") if (folder / "distances.csv").is_file() else {}
    comparison = _stem(COMPARISON_TABLES[name]) if name in COMPARISON_TABLES else None
    if experiment == f"{name}_scratch":
        if name == "pronotum":
            values.update(_rekey(distances, "table03_pronotum_distances", "distance", "distance"))
            predictions = folder / "predictions.csv"
            if predictions.is_file():
                paired = read_paired_csv(predictions)
                scores = correlation_scores(paired.manual, paired.predicted)
                for metric in ("r2", "explained_variance", "pearson"):
                    values[("table02_pronotum_correlation", metric, "")] = Ours(
                        _float(getattr(scores, metric)), str(predictions))
        if name in TABLE4_PARTS:
            values.update(_rekey(distances, "table04_scratch_distances", "distance", name))
        if comparison:
            values.update(_rekey(distances, comparison, "distance", "from_scratch"))
    elif experiment == f"{name}_finetune":
        if comparison:
            values.update(_rekey(distances, comparison, "distance", "fine_tune"))
            if (folder / "comparison.csv").is_file():
                fallback.update(_rekey(read_table(folder / "comparison.csv", comparison), comparison,
                                       "from_scratch", "from_scratch"))
    else:
        raise DataError(f"{folder}: experiment {experiment!r} gives none of the paper's tables")
    loss_file = next((file for file, run_name in LOSS_RUNS.items() if run_name == experiment), None)
    if loss_file is not None:
        values.update(_run_losses(folder, run, loss_file))
    return values, fallback


def _run_losses(folder: Path, run: dict, file: str) -> dict[Key, Ours]:
    """Final training and validation loss per round: ``run.json``'s rounds
    (full precision), else ``table01_losses.csv`` (4 decimals)."""
    values = {}
    for record in run.get("rounds") or []:
        try:
            key = f"round {int(record['round'])}"
            for column in ("train_loss", "valid_loss"):
                if record.get(column) is not None:
                    values[(file, column, key)] = Ours(_float(float(record[column])), str(folder / "run.json"))
        except (KeyError, TypeError, ValueError):
            continue
    if not values and (folder / "table01_losses.csv").is_file():
        values = read_table(folder / "table01_losses.csv", file)
    return values


def _experiment_folders(folder: Path) -> list[Path]:
    """The experiment folders under ``folder`` with the scripts' default names."""
    names = [f"{name}_{kind}" for name in PART_NAMES for kind in ("scratch", "finetune")]
    return [folder / n for n in names if (folder / n / "run.json").is_file()]


def folder_values(folder, files) -> tuple[dict[Key, Ours], dict[Key, Ours]]:
    """Ours from ``folder``, any of the three kinds of the module doc;
    ``files`` are the printed file names.  Gives ``(values, fallback)`` as
    :func:`run_values`.  Raises :class:`DataError` when the folder holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: run folder not found")
    if (folder / "run.json").is_file():
        return run_values(folder)
    values = tables_values(folder, files)
    if values:
        return values, {}
    runs = _experiment_folders(folder)
    if not runs:
        raise DataError(
            f"{folder}: none of the paper's tables, no run.json, and no experiment folders "
            "(<part>_scratch/, <part>_finetune/) in it"
        )
    values, fallback = {}, {}
    for run in runs:
        found, spare = run_values(run)
        _merge(values, found)
        fallback.update(spare)
    return values, fallback


def _merge(into: dict[Key, Ours], found: dict[Key, Ours]) -> None:
    """Add ``found`` to ``into``; a value two sources give differently is an error."""
    for key, ours in found.items():
        already = into.get(key)
        if already is not None and already.value != ours.value:
            raise DataError(
                f"{already.source} and {ours.source} both give {key[0]} {key[1]} {key[2]} "
                f"({already.value} and {ours.value}): compare them one at a time"
            )
        into.setdefault(key, ours)


def runs_values(folders, files) -> dict[Key, Ours]:
    """Ours from every folder of ``folders`` (:func:`folder_values`), together."""
    values, fallback = {}, {}
    for folder in folders:
        found, spare = folder_values(folder, files)
        _merge(values, found)
        fallback.update(spare)
    for key, ours in fallback.items():
        values.setdefault(key, ours)
    return values


def published_values(files, reference=None, tables=None) -> dict[Key, Ours]:
    """Ours from the published landmarks (``reference``: another folder laid
    out the same way): the tables in ``tables`` if given (already written by
    :func:`beetles.studies.tables.write_paper_tables`), else computed into a
    temporary folder."""
    if tables is not None:
        return tables_values(tables, files)
    with tempfile.TemporaryDirectory(prefix="beetles-paper-values-") as folder:
        write_paper_tables(folder, reference)
        values = tables_values(folder, files)
    return {key: Ours(ours.value, "published landmarks") for key, ours in values.items()}


def compare(printed: list[Printed], ours: dict[Key, Ours]) -> list[Row]:
    """Every printed value beside ours, in the printed file's order."""
    decimals = table_decimals(printed)
    return [Row(p, decimals[p.table], ours.get(p.key)) for p in printed]


def write_comparison(rows: list[Row], path) -> Path:
    """Write ``table,file,column,landmark_or_round,ours,printed,difference,agreement``
    (ours and difference empty where ours is missing); returns the path."""
    def text(value):  # an exact decimal in plain notation, or empty
        return "" if value is None else format(value, "f")

    return write_table(
        path,
        COMPARISON_COLUMNS,
        [[r.printed.table, r.printed.file, r.printed.column, r.printed.landmark_or_round,
          text(r.ours.value if r.ours else None), r.printed.printed, text(r.difference), r.agreement]
         for r in rows],
    )


def _table_number(table: str) -> tuple:
    """Sort key putting ``Table 2`` before ``Table 10``."""
    head, _, number = table.rpartition(" ")
    return (head, int(number)) if number.isdigit() else (table, 0)


def summary(rows: list[Row], from_runs: bool = False) -> str:
    """A short report of ``rows``: per table the values compared, missing, max
    |difference| and how many differ beyond rounding; then the verdict
    (``from_runs``: ours came from runs, so no note that only runs have losses)."""
    tables = sorted({r.printed.table for r in rows}, key=_table_number)
    lines = [f"{'table':<9} {'values':>6} {'compared':>8} {'missing':>7} {'max |diff|':>11} "
             f"{'last digit':>10} {'differ':>6}"]
    for table in tables:
        mine = [r for r in rows if r.printed.table == table]
        compared = [r for r in mine if r.ours is not None]
        largest = max((abs(r.difference) for r in compared), default=None)
        lines.append(
            f"{table:<9} {len(mine):>6} {len(compared):>8} {len(mine) - len(compared):>7} "
            f"{'' if largest is None else format(largest, 'f'):>11} "
            f"{format(Decimal(1).scaleb(-mine[0].decimals), 'f'):>10} "
            f"{sum(r.agreement == 'differs' for r in mine):>6}"
        )
    counts = {kind: sum(r.agreement == kind for r in rows) for kind in ("rounding", "slip", "differs", "missing")}
    compared = len(rows) - counts["missing"]
    missing_tables = [t for t in tables if all(r.ours is None for r in rows if r.printed.table == t)]
    lines.append(
        f"{len(rows)} printed values, {compared} compared: {counts['rounding']} agree within the paper's rounding, "
        f"{counts['slip']} within a known slip of the paper, {counts['differs']} differ"
    )
    if counts["missing"]:
        partly = sorted({r.printed.table for r in rows if r.ours is None} - set(missing_tables), key=_table_number)
        where = ", ".join(missing_tables) or "none"
        lines.append(f"{counts['missing']} missing in ours (whole tables: {where}"
                     + (f"; some values of: {', '.join(partly)}" if partly else "") + ")")
        losses = [t for t in missing_tables if any(r.printed.file in LOSS_RUNS for r in rows if r.printed.table == t)]
        if losses and not from_runs:
            lines.append(f"  {', '.join(losses)}: final losses of training runs, in no landmark file "
                         "(compare a run's with --runs)")
    if compared == 0:
        lines.append("verdict: nothing compared")
    elif counts["differs"]:
        lines.append(f"verdict: {counts['differs']} of {compared} compared values differ from the paper")
    else:
        lines.append(f"verdict: all {compared} compared values agree with the paper")
    return "\n".join(lines)


def paper_values(out, runs=None, reference=None, tables=None, printed=None) -> tuple[list[Row], Path]:
    """The verdict: every printed value (``printed``: another printed-values
    file) beside ours, from the folders ``runs`` or, without them, from the
    published landmarks (``reference``, ``tables``: :func:`published_values`);
    writes the side-by-side CSV ``out``.  Gives the rows and the path."""
    printed_rows = read_printed(printed)
    files = list(dict.fromkeys(p.file for p in printed_rows))
    ours = runs_values(runs, files) if runs else published_values(files, reference, tables)
    rows = compare(printed_rows, ours)
    return rows, write_comparison(rows, out)
