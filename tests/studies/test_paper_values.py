"""Every number the paper prints, asserted; and the verdict command.

The paper's printed values (``beetles/paper/published/paper_printed_values.csv``,
provenance in ``data/reference/README.md``) are checked, table by table,
against the tables :func:`write_paper_tables` computes from the published
landmarks: the computed value rounded to the table's printed decimals is the
printed value.  The only exceptions are the paper's own slips, listed with
their reasons in one place, :data:`beetles.studies.paper_values.PAPER_SLIPS`,
and allowed their tolerance in units of the last printed digit.

Not computable from the published landmarks, so compared by the verdict
command (``beetles tables --paper-values OUT.csv --runs DIR``) and not here:
the loss tables of :data:`NOT_COMPUTABLE`.  For them this file asserts what can
be asserted: their rows, keys and counts.
"""
import csv
import json
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

import pytest

from beetles.cli import main
from beetles.core.errors import DataError
from beetles.formats.published import write_paired_csv
from beetles.formats.results import landmark_table, write_table
from beetles.studies.paper_values import (
    COMPARISON_COLUMNS,
    LOSS_RUNS,
    PAPER_SLIPS,
    Ours,
    paper_values,
    printed_values_path,
    read_printed,
    table_decimals,
    tables_values,
)
from beetles.studies.tables import load_published, write_paper_tables

PRINTED = read_printed()
FILES = list(dict.fromkeys(p.file for p in PRINTED))
DECIMALS = table_decimals(PRINTED)

#: Printed values per table, as the paper prints them: Table 2's three
#: scores; Table 4 the from-scratch distances of the right mandible (18), left
#: mandible (16), elytra (11) and head (10); Tables 6–12 from scratch and
#: fine-tuned per landmark; the loss tables 9 rounds × (train, valid).
COUNTS = {"Table 1": 18, "Table 2": 3, "Table 3": 8, "Table 4": 55, "Table 5": 18, "Table 6": 16, "Table 7": 18,
          "Table 8": 22, "Table 9": 18, "Table 10": 20, "Table 11": 32, "Table 12": 36}
#: Not computable from the published landmarks (final losses of the authors'
#: training runs): compared by ``beetles tables --paper-values --runs``.
NOT_COMPUTABLE = {
    "Table 1": "pronotum from scratch, final training and validation loss per round",
    "Table 5": "pronotum fine-tuned, final training and validation loss per round",
    "Table 7": "elytra fine-tuned, final training and validation loss per round",
    "Table 9": "head fine-tuned, final training and validation loss per round",
}
COMPUTABLE = [t for t in COUNTS if t not in NOT_COMPUTABLE]


def rows_of(table):
    return [p for p in PRINTED if p.table == table]


def mismatches(printed, values):
    """Each printed value of ``printed`` that ``values`` (key -> Ours) does not
    reproduce, as a line of text: rounded to the table's printed decimals
    (half up or half down: the paper's tie rule is unknown) it should be the
    printed number, or, for a listed slip, within its tolerance."""
    problems = []
    for p in printed:
        ours = values.get(p.key)
        if ours is None:
            problems.append(f"{p.table} {p.column} {p.landmark_or_round}: not computed")
            continue
        unit = Decimal(1).scaleb(-DECIMALS[p.table])
        rounded = {ours.value.quantize(unit, rounding=mode) for mode in (ROUND_HALF_UP, ROUND_HALF_DOWN)}
        slip = PAPER_SLIPS.get((p.table, p.column, p.landmark_or_round))
        if slip is None:
            if p.value not in rounded:
                problems.append(f"{p.table} {p.column} {p.landmark_or_round}: {ours.value} rounds to "
                                f"{sorted(rounded)}, the paper prints {p.printed}")
        elif p.value in rounded:
            problems.append(f"{p.table} {p.column} {p.landmark_or_round}: listed as a slip but rounds as printed")
        elif abs(ours.value - p.value) > slip[0] * unit:
            problems.append(f"{p.table} {p.column} {p.landmark_or_round}: {ours.value} is more than {slip[0]} "
                            f"× {unit} from the printed {p.printed}")
    return problems


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_tables")
    write_paper_tables(out)
    return out, tables_values(out, FILES)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_printed_table_is_asserted_or_listed_as_not_computable():
    assert printed_values_path().is_file()
    assert len(PRINTED) == 264
    assert {t: len(rows_of(t)) for t in COUNTS} == COUNTS and {p.table for p in PRINTED} == set(COUNTS)
    assert set(COMPUTABLE).isdisjoint(NOT_COMPUTABLE)
    assert {key[0] for key in PAPER_SLIPS} <= set(COMPUTABLE)
    assert set(PAPER_SLIPS) <= {(p.table, p.column, p.landmark_or_round) for p in PRINTED}
    # the precision each table is printed with (trailing zeros dropped in transcription: 4.002 for 4.0020)
    assert DECIMALS == {"Table 1": 5, "Table 2": 4, "Table 3": 4, "Table 4": 4, "Table 5": 5, "Table 6": 2,
                        "Table 7": 5, "Table 8": 2, "Table 9": 5, "Table 10": 2, "Table 11": 4, "Table 12": 4}


@pytest.mark.parametrize("table", COMPUTABLE, ids=lambda t: t.replace(" ", ""))
def test_printed_values_are_reproduced_from_the_published_landmarks(computed, table):
    _, values = computed
    assert mismatches(rows_of(table), values) == []


@pytest.mark.parametrize("table", sorted(NOT_COMPUTABLE), ids=lambda t: t.replace(" ", ""))
def test_loss_tables_are_in_the_printed_values_but_not_in_the_published_landmarks(computed, table):
    out, values = computed
    rows = rows_of(table)
    (file,) = {p.file for p in rows}
    assert file in LOSS_RUNS  # a run of LOSS_RUNS[file] gives it: compared by --paper-values --runs
    assert sorted((p.landmark_or_round, p.column) for p in rows) == sorted(
        (f"round {k}", column) for k in range(1, 10) for column in ("train_loss", "valid_loss"))
    assert all(p.value > 0 and p.decimals == 5 for p in rows)
    assert not any(p.key in values for p in rows) and not list(out.glob(f"{file[:7]}*"))


def test_a_wrong_value_fails(computed):
    _, values = computed
    for table, column, landmark, change in [("Table 3", "distance", "5", "0.0001"),
                                            ("Table 6", "fine_tune", "3", "0.01"),
                                            ("Table 8", "fine_tune", "10", "0.01"),  # a slip beyond its tolerance
                                            ("Table 2", "r2", "", "-0.0001")]:
        (row,) = [p for p in rows_of(table) if (p.column, p.landmark_or_round) == (column, landmark)]
        wrong = dict(values)
        wrong[row.key] = Ours(values[row.key].value + Decimal(change), "perturbed")
        problems = mismatches(rows_of(table), wrong)
        assert len(problems) == 1 and problems[0].startswith(f"{table} {column} {landmark}:"), problems
    assert mismatches(rows_of("Table 3"), {}) == [f"Table 3 distance {k}: not computed" for k in range(1, 9)]


def test_verdict_on_the_published_landmarks(tmp_path, computed, capsys):
    assert main(["tables", "--paper-values", str(tmp_path / "verdict.csv")]) == 0
    printed = capsys.readouterr().out
    assert "verdict: all 192 compared values agree with the paper" in printed
    assert "72 missing in ours (whole tables: Table 1, Table 5, Table 7, Table 9)" in printed
    assert "Table 1, Table 5, Table 7, Table 9: final losses of training runs, in no landmark file" in printed
    with open(tmp_path / "verdict.csv", newline="") as handle:
        assert next(csv.reader(handle)) == COMPARISON_COLUMNS
    rows = read_csv(tmp_path / "verdict.csv")
    assert [(r["table"], r["file"], r["column"], r["landmark_or_round"], r["printed"]) for r in rows] == [
        (p.table, p.file, p.column, p.landmark_or_round, p.printed) for p in PRINTED]
    _, values = computed
    for row in rows:
        key = (row["file"], row["column"], row["landmark_or_round"])
        if row["table"] in NOT_COMPUTABLE:
            assert (row["ours"], row["difference"], row["agreement"]) == ("", "", "missing")
            continue
        assert Decimal(row["ours"]) == values[key].value
        assert Decimal(row["difference"]) == Decimal(row["ours"]) - Decimal(row["printed"])
        slip = (row["table"], row["column"], row["landmark_or_round"]) in PAPER_SLIPS
        assert row["agreement"] == ("slip" if slip else "rounding"), row
    # with --out the tables are written there and compared from there: the same verdict
    assert main(["tables", "--out", str(tmp_path / "t"), "--paper-values", str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "t" / "table03_pronotum_distances.csv").is_file()
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "verdict.csv").read_text()


def test_verdict_shows_a_changed_value_in_a_run(tmp_path, computed, capsys):
    out, _ = computed
    run = tmp_path / "run"
    run.mkdir()
    lines = (out / "table03_pronotum_distances.csv").read_text().splitlines()
    assert lines[5] == "5,4.2925"
    lines[5] = "5,4.3925"
    (run / "table03_pronotum_distances.csv").write_text("\n".join(lines) + "\n")
    # Table 1 under the name experiments/all_tables.py gives it
    (run / "table01_pronotum_losses.csv").write_text("round,train_loss,valid_loss\n1,0.00018,0.00019\n")
    assert main(["tables", "--paper-values", str(tmp_path / "v.csv"), "--runs", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "10 compared: 9 agree within the paper's rounding, 0 within a known slip of the paper, 1 differ" in printed
    assert "verdict: 1 of 10 compared values differ from the paper" in printed and "254 missing in ours" in printed
    assert "in no landmark file" not in printed
    assert [r["agreement"] for r in read_csv(tmp_path / "v.csv") if r["landmark_or_round"] == "round 1"
            and r["table"] == "Table 1"] == ["rounding", "rounding"]
    table3 = [r for r in read_csv(tmp_path / "v.csv") if r["table"] == "Table 3"]
    assert [(r["ours"], r["difference"], r["agreement"]) for r in table3 if r["agreement"] != "rounding"] == [
        ("4.3925", "0.1000", "differs")]
    assert table3[4]["landmark_or_round"] == "5"
    assert all(r["agreement"] == "missing" for r in read_csv(tmp_path / "v.csv")
               if r["table"] != "Table 3" and (r["table"], r["landmark_or_round"]) != ("Table 1", "round 1"))


def write_run(folder, experiment, name, distances, rounds, comparison=None):
    """An experiment folder as the scripts write it (the files the verdict reads)."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"experiment": experiment, "part": name, "rounds": [
        {"round": k, "train_loss": t, "valid_loss": v} for k, t, v in rounds]}))
    landmark_table(folder / "distances.csv", {"distance": distances})
    write_table(folder / "table01_losses.csv", ["round", "train_loss", "valid_loss"], rounds)  # 4 decimals
    if comparison is not None:
        landmark_table(folder / "comparison.csv", {"from_scratch": comparison, "fine_tune": distances})


def test_verdict_reads_experiment_folders(tmp_path):
    pronotum = load_published("pronotum")
    results = tmp_path / "results"
    write_run(results / "pronotum_scratch", "pronotum_scratch", "pronotum", pronotum.scratch_means,
              [(1, 0.00018, 0.00025)])
    write_paired_csv(results / "pronotum_scratch" / "predictions.csv", [f"p{k}" for k in range(293)],
                     pronotum.scratch_manual, pronotum.scratch_pred)
    write_run(results / "pronotum_finetune", "pronotum_finetune", "pronotum", pronotum.finetune_means,
              [(1, 0.00019, 0.00009), (2, 0.00018, 0.00010)], comparison=pronotum.scratch_means + 1)
    rows, path = paper_values(tmp_path / "v.csv", runs=[results])
    got = {(r.printed.table, r.printed.column, r.printed.landmark_or_round): r for r in rows}
    # Table 1 from run.json at full precision (table01_losses.csv has 4 decimals: 0.0002)
    assert got["Table 1", "train_loss", "round 1"].agreement == "rounding"
    assert format(got["Table 1", "train_loss", "round 1"].ours.value, "f") == "0.00018"
    assert got["Table 1", "valid_loss", "round 1"].agreement == "differs"
    assert format(got["Table 1", "valid_loss", "round 1"].difference, "f") == "0.00006"
    assert got["Table 1", "train_loss", "round 2"].agreement == "missing"
    assert all(got["Table 5", c, f"round {k}"].agreement == "rounding" for c in ("train_loss", "valid_loss")
               for k in (1, 2))
    # the from-scratch run's distances, not the fine-tuning run's copy (+1) in comparison.csv
    assert {got["Table 3", "distance", str(k)].agreement for k in range(1, 9)} == {"rounding"}
    assert {got["Table 6", c, str(k)].agreement for c in ("from_scratch", "fine_tune") for k in range(1, 9)} == {
        "rounding"}
    assert [got["Table 2", m, ""].agreement for m in ("r2", "explained_variance", "pearson")] == [
        "rounding", "slip", "rounding"]
    assert all(r.agreement == "missing" for r in rows if r.printed.table in ("Table 4", "Table 8", "Table 11"))
    # without a from-scratch run, the fine-tuning run's comparison.csv gives the from-scratch column
    rows, _ = paper_values(tmp_path / "w.csv", runs=[results / "pronotum_finetune"])
    scratch = [r for r in rows if r.printed.table == "Table 6" and r.printed.column == "from_scratch"]
    assert [r.ours.value for r in scratch] == [Decimal(f"{v + 1:.4f}") for v in pronotum.scratch_means]
    # the same folder twice agrees with itself; two runs giving one value differently are refused
    assert len(paper_values(tmp_path / "x.csv", runs=[results, results / "pronotum_scratch"])[0]) == 264
    write_run(tmp_path / "other", "pronotum_scratch", "pronotum", pronotum.scratch_means + 1, [(1, 0.1, 0.2)])
    with pytest.raises(DataError, match="compare them one at a time"):
        paper_values(tmp_path / "y.csv", runs=[results, tmp_path / "other"])


def test_verdict_command_errors(tmp_path, capsys):
    assert main(["tables"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    assert main(["tables", "--out", str(tmp_path / "t"), "--runs", str(tmp_path)]) == 2
    assert main(["tables", "--paper-values", str(tmp_path / "v.csv"), "--out", str(tmp_path / "t"),
                 "--runs", str(tmp_path)]) == 2
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert main(["tables", "--paper-values", str(tmp_path / "v.csv"), "--runs", str(tmp_path / "empty")]) == 2
    assert "none of the paper's tables" in capsys.readouterr().err
    assert main(["tables", "--paper-values", str(tmp_path / "v.csv"), "--runs", str(tmp_path / "none")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    assert not (tmp_path / "v.csv").exists() and not (tmp_path / "t").exists()
