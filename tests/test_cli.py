"""The `rebalancing` command line, run as a subprocess the way a person runs it.

Most cases run twice: once as a real process (exit status, one-line errors, no
traceback) and once in-process through `main()` so that coverage sees the code.
"""

import argparse
import csv
import io
import json
import re
import runpy
import shlex
import subprocess
import sys
import sysconfig
from importlib.resources import files
from pathlib import Path

import pytest

from rebalancing import PortfolioSnapshot, RebalanceConfig, compute_trades
from rebalancing._cli import build_parser, main
from rebalancing._version import __version__

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC_FILES = DOCS / "files"
#: The doc pages whose console examples this module runs (cwd: docs/files).
DOC_PAGES = ("quickstart.md", "cli.md", "recipes/personal-account.md", "recipes/bands.md",
             "recipes/buy-only.md", "recipes/sleeve.md")  # fmt: skip

HOLDINGS = "asset,quantity,price\nA,10,100\nB,20,50\nCASH,1000,\n"
TARGETS = "asset,weight\nA,0.4\nB,0.4\n"


def run_process(*args, cwd=None):
    """Run `python -m rebalancing ARGS` and return the completed process."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "rebalancing", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
    )


def run_inline(capsys, *args):
    """Run `main(ARGS)` in this process; return (status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write(directory, files):
    """Write ``{name: text}`` into ``directory`` (str text, or bytes as is)."""
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def csv_rows(text):
    """Rows of a CSV text as dicts."""
    return list(csv.DictReader(io.StringIO(text)))


class TestExample:
    def test_python_m_runs_the_bundled_example(self):
        """`python -m rebalancing plan --example` prints the orders and the summary, status 0."""
        done = run_process("plan", "--example")

        assert (0, "") == (done.returncode, done.stderr)
        assert done.stdout.startswith("Orders (3), in the order to place them\n")
        assert re.search(r"SELL\s+VXUS\s+42\s+58\.90\s+2,473\.80", done.stdout)
        assert re.search(r"Equity\s+60,956\.60\n", done.stdout)

    def test_console_script_runs_the_example(self):
        """The installed `rebalancing` script gives the same output as `python -m`."""
        script = Path(sysconfig.get_path("scripts")) / "rebalancing"
        if not script.exists():  # pragma: no cover - every install path creates it
            pytest.skip("the console script is not installed in this environment")
        done = subprocess.run(  # noqa: S603 - the script this package installs
            [str(script), "plan", "--example"], capture_output=True, text=True, check=False
        )

        assert run_process("plan", "--example").stdout == done.stdout

    def test_example_files_are_package_data(self):
        """The example portfolio ships inside the package, where `--example` reads it."""
        folder = files("rebalancing") / "examples"

        assert {"config.toml", "holdings.csv", "targets.csv"} <= {p.name for p in folder.iterdir()}

    def test_example_in_process(self, capsys):
        """`main()` returns 0 and prints the same table as the process."""
        status, out, err = run_inline(capsys, "plan", "--example")

        assert (0, "") == (status, err)
        assert "No trade (1)" in out

    def test_example_with_a_flag(self, capsys):
        """Flags apply on top of the example's config: buying only leaves VXUS alone."""
        status, out, _ = run_inline(capsys, "plan", "--example", "--direction", "buy-only")

        assert 0 == status
        assert re.search(r"VXUS\s+28\.99%\s+25\.00%\s+would sell, but direction is buy_only", out)

    def test_dunder_main_exits_with_the_status(self, capsys, monkeypatch):
        """`python -m rebalancing` exits with `main()`'s status."""
        monkeypatch.setattr(sys, "argv", ["rebalancing", "plan"])
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_module("rebalancing", run_name="__main__")

        assert 2 == exit_info.value.code
        assert "plan needs --holdings" in capsys.readouterr().err

    def test_closed_pipe_is_not_a_traceback(self, tmp_path, monkeypatch):
        """`rebalancing plan ... | head`: a reader that stops early gives status 1, no error."""

        class ClosedPipe(io.StringIO):
            def __init__(self, fd):
                super().__init__()
                self.fd = fd

            def write(self, text):
                raise BrokenPipeError

            def fileno(self):
                return self.fd

        with (tmp_path / "out").open("w") as sink:
            monkeypatch.setattr(sys, "stdout", ClosedPipe(sink.fileno()))
            status = main(["plan", "--example"])

        assert 1 == status

    def test_help_shows_defaults_and_units(self, capsys):
        """`plan --help`: no doubled %, every config flag with its default, rates in bp."""
        status, out, _ = run_inline(capsys, "plan", "--help")
        flat = " ".join(out.split())

        assert 0 == status
        assert "%%" not in out
        assert "weights like 0.25 or 25%." in flat
        assert "(0.001 is 10 bp, 0.1%)" in flat
        assert "currency; closes are exempt (default: 100)" in flat
        assert "--max-gross-leverage X|none cap on" in flat
        assert "(default: none)" in flat

    def test_help_names_no_library_internals(self, capsys):
        """The help speaks of flags and files, not of the library's classes and fields."""
        _, out, _ = run_inline(capsys, "plan", "--help")

        for internal in ("RebalanceConfig", "PortfolioSnapshot", "None", "``", ":class:"):
            assert internal not in out

    def test_every_config_flag_shows_its_default(self):
        """Each config option's help ends with its default, even a field added later."""
        parser = build_parser()
        plan = parser._subparsers._group_actions[0].choices["plan"]
        config = next(g for g in plan._action_groups if g.title == "config options")
        helps = {a.dest: a.help for a in config._group_actions if a.help != argparse.SUPPRESS}

        assert len(helps) >= 15
        assert dict.fromkeys(helps, True) == {
            name: "(default: " in text for name, text in helps.items()
        }

    def test_version(self, capsys):
        """`--version` prints the version and exits 0."""
        status, out, _ = run_inline(capsys, "--version")

        assert (0, f"rebalancing {__version__}\n") == (status, out)


class TestFormats:
    def test_csv_has_one_row_per_order_then_skips(self, capsys):
        """`--format csv`: orders in submission order, then the skipped assets with a reason."""
        status, out, _ = run_inline(capsys, "plan", "--example", "--format", "csv")
        rows = csv_rows(out)

        assert 0 == status
        assert [("VXUS", "sell", "42"), ("BND", "buy", "18"), ("VNQ", "buy", "34")] == [
            (r["asset"], r["side"], r["quantity"]) for r in rows[:3]
        ]
        assert [("VTI", "", "weight_change_too_small")] == [
            (r["asset"], r["side"], r["reason"]) for r in rows[3:]
        ]

    def test_json_has_orders_skips_and_summary(self, capsys):
        """`--format json`: orders, skipped assets and the plan's figures as numbers."""
        status, out, _ = run_inline(capsys, "plan", "--example", "--format", "json")
        document = json.loads(out)

        assert 0 == status
        assert ["VXUS", "BND", "VNQ"] == [o["asset"] for o in document["orders"]]
        assert ["VTI"] == [s["asset"] for s in document["skipped"]]
        assert 2_500.0 == document["cash_before"]
        assert 60_956.6 == pytest.approx(document["equity"])
        assert document["projected_cash"] >= 0.0

    def test_csv_and_json_say_the_targets_were_scaled(self, capsys, tmp_path, monkeypatch):
        """Targets summing to 120% in a cash account are scaled to 100%: the table says so,
        and so do the csv (on standard error, the rows stay plain) and json outputs."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,60%\nB,60%\n"})
        args = ("plan", "--holdings", "h.csv", "--targets", "t.csv")
        _, json_out, _ = run_inline(capsys, *args, "--format", "json")
        _, csv_out, csv_err = run_inline(capsys, *args, "--format", "csv")
        _, plain_out, _ = run_inline(capsys, "plan", "--example", "--format", "json")
        note = (
            "the targets sum to 120.00%; a cash account does not borrow, so they were scaled "
            "to 100% (pass --margin for an account that may borrow)."
        )

        assert [note] == json.loads(json_out)["notes"]
        assert f"note: {note}\n" == csv_err
        assert "note" not in csv_out
        assert [] == json.loads(plain_out)["notes"]

    def test_money_has_no_float_noise(self, capsys, tmp_path, monkeypatch):
        """12 x 190.2 is 2282.4 in CSV and JSON (the float product is 2282.3999999999996)."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,12,190.2\nCASH,0.1,\n"})
        write(tmp_path, {"t.csv": "asset,weight\nB,0.5\n"})
        args = ("plan", "--holdings", "h.csv", "--targets", "t.csv")
        _, csv_out, _ = run_inline(capsys, *args, "--format", "csv")
        _, json_out, _ = run_inline(capsys, *args, "--format", "json", "--cost-rate", "0.001")
        document = json.loads(json_out)

        assert 2282.3999999999996 == 12 * 190.2
        assert "A,sell,12,190.2,2282.4,0.9999561884,0.0,0.0," in csv_out.splitlines()
        assert (2282.4, 2282.5) == (document["orders"][0]["value"], document["equity"])
        assert 0.1 - 2.28 == pytest.approx(document["projected_cash"] - 2282.4)

    def test_json_orders_have_action_and_cost(self, capsys):
        """Each JSON order says what it does to the position and its estimated cost."""
        _, out, _ = run_inline(
            capsys, "plan", "--example", "--format", "json", "--cost-rate", "0.001",
            "--cost-per-order", "1",
        )  # fmt: skip
        orders = json.loads(out)["orders"]

        assert [("VXUS", "sell", "reduce", 3.47), ("BND", "buy", "increase", 2.3),
                ("VNQ", "buy", "open", 4.0)] == [
            (o["asset"], o["side"], o["action"], o["estimated_cost"]) for o in orders
        ]  # fmt: skip

    def test_table_shows_a_price_with_its_decimals(self, capsys, tmp_path, monkeypatch):
        """A price below a cent keeps its digits in the table (0.0123, not 0.01)."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,10000,0.0123\n"})
        write(tmp_path, {"t.json": '{"B": 0.5}'})
        _, out, _ = run_inline(capsys, "plan", "--holdings", "h.csv", "--targets", "t.json")

        assert re.search(r"SELL\s+A\s+10,000\s+0\.0123\s+123\.00", out)

    def test_table_columns_are_aligned(self, capsys):
        """Every row of the orders table has its columns at the same offsets as the header."""
        _, out, _ = run_inline(capsys, "plan", "--example")
        lines = out.splitlines()[1:5]

        assert len({line.index("->") for line in lines[1:]}) == 1
        assert len({len(line) for line in lines}) == 1

    def test_no_orders(self, capsys, tmp_path):
        """At target, the table says there are no orders and lists why."""
        write(
            tmp_path, {"h.csv": "asset,quantity,price\nA,10,100\n", "t.csv": "asset,weight\nA,1\n"}
        )
        status, out, _ = run_inline(
            capsys,
            "plan",
            "--holdings",
            str(tmp_path / "h.csv"),
            "--targets",
            str(tmp_path / "t.csv"),
        )

        assert 0 == status
        assert out.startswith("Orders: none\n\nNo trade (1)\n")
        assert "already at target" in out

    def test_costs_are_shown_when_estimated(self, capsys):
        """With cost estimates, the summary has an estimated-costs line."""
        _, out, _ = run_inline(capsys, "plan", "--example", "--cost-per-order", "4.95")

        assert re.search(r"Estimated costs\s+14\.85\n", out)


class TestInputs:
    def plan(self, capsys, tmp_path, files, *args):
        write(tmp_path, files)
        status, out, err = run_inline(capsys, "plan", *args, "--format", "json")
        assert (0, "") == (status, err)
        return json.loads(out)

    def orders(self, document):
        return [(o["side"], o["asset"], o["quantity"]) for o in document["orders"]]

    def test_csv_files(self, capsys, tmp_path, monkeypatch):
        """Hand-written CSV holdings and targets: the cash row funds the buys."""
        monkeypatch.chdir(tmp_path)
        doc = self.plan(
            capsys, tmp_path, {"h.csv": HOLDINGS, "t.csv": TARGETS}, "--holdings", "h.csv",
            "--targets", "t.csv",
        )  # fmt: skip

        assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)
        assert 3_000.0 == doc["equity"]

    def test_json_files(self, capsys, tmp_path, monkeypatch):
        """The JSON object forms give the same plan as the CSV files."""
        monkeypatch.chdir(tmp_path)
        holdings = {"cash": 1000, "positions": {"A": 10, "B": 20}, "prices": {"A": 100, "B": 50}}
        files = {"h.json": json.dumps(holdings), "t.json": json.dumps({"A": 0.4, "B": "40%"})}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.json", "--targets", "t.json")

        assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)

    def test_json_rows(self, capsys, tmp_path, monkeypatch):
        """JSON lists of rows use the CSV column names."""
        monkeypatch.chdir(tmp_path)
        holdings = [
            {"asset": "A", "quantity": 10, "price": 100},
            {"asset": "B", "quantity": 20, "price": 50},
            {"asset": "CASH", "quantity": 1000},
        ]
        targets = [{"asset": "A", "weight": 0.4}, {"asset": "B", "weight": 0.4}]
        files = {"h.json": json.dumps(holdings), "t.json": json.dumps(targets)}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.json", "--targets", "t.json")

        assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)

    def test_cash_flag_replaces_the_cash_row(self, capsys, tmp_path, monkeypatch):
        """`--cash` replaces the holdings' CASH row rather than adding to it."""
        monkeypatch.chdir(tmp_path)
        doc = self.plan(
            capsys, tmp_path, {"h.csv": HOLDINGS, "t.csv": TARGETS}, "--holdings", "h.csv",
            "--targets", "t.csv", "--cash", "3000",
        )  # fmt: skip

        assert 3_000.0 == doc["cash_before"]
        assert 5_000.0 == doc["equity"]

    def test_no_cash_row_means_zero(self, capsys, tmp_path, monkeypatch):
        """Without a CASH row or `--cash`, the cash balance is 0."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": "asset,quantity,price\nA,10,100\n", "t.csv": "asset,weight\nA,0.5\n"}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert 0.0 == doc["cash_before"]
        assert [("sell", "A", 5)] == self.orders(doc)

    def test_targets_price_column_prices_a_new_asset(self, capsys, tmp_path, monkeypatch):
        """An asset not held gets its price from the targets' price column."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight,price\nA,0.4,\nB,0.4,\nC,0.2,25\n"}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert ("buy", "C", 24) in self.orders(doc)

    def test_unpriced_target_is_skipped_with_a_reason(self, capsys, tmp_path, monkeypatch):
        """A targeted asset without any price is reported, not an error."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,0.4\nB,0.4\nC,0.2\n"}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert {"C": "no_price"} == {
            s["asset"]: s["reason"] for s in doc["skipped"] if s["asset"] == "C"
        }

    def test_prices_file_overrides_every_price(self, capsys, tmp_path, monkeypatch):
        """`--prices` wins over the holdings' and the targets' prices."""
        monkeypatch.chdir(tmp_path)
        files = {
            "h.csv": HOLDINGS,
            "t.csv": TARGETS,
            "p.csv": "asset,price\nA,200\n",
            "p.json": json.dumps({"A": 200}),
        }
        for prices in ("p.csv", "p.json"):
            doc = self.plan(
                capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
                "--prices", prices,
            )  # fmt: skip

            assert 4_000.0 == doc["equity"]

    def test_comments_blank_lines_bom_percent_and_semicolons(self, capsys, tmp_path, monkeypatch):
        """Spreadsheet exports work: BOM, `;` delimiters, comments, blank lines, `40%`."""
        monkeypatch.chdir(tmp_path)
        files = {
            "h.csv": "\ufeff# my account\n\nAsset;Quantity;Price;Name\nA;10;100;Alpha\n"
            "B;20;50;Beta\ncash;1000;;\n",
            "t.csv": "asset , weight\n A , 40% \nB,0.4\n",
        }
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)

    def test_broker_column_names(self, capsys, tmp_path, monkeypatch):
        """Brokers' column names (Symbol/Ticker, Shares/Qty, Last/Close) work in any case."""
        monkeypatch.chdir(tmp_path)
        files = {
            "h.csv": "Symbol,Description,Qty,Last\nA,Alpha,10,100\nB,Beta,20,50\nCash,,1000,\n",
            "h2.csv": "TICKER,SHARES,CLOSE\nA,10,100\nB,20,50\nCASH,1000,\n",
            "h.json": json.dumps(
                [
                    {"Symbol": "A", "Shares": 10, "Close": 100},
                    {"ticker": "B", "qty": 20, "last": 50},
                    {"symbol": "CASH", "quantity": 1000},
                ]
            ),
            "t.csv": "Ticker,Weight\nA,0.4\nB,0.4\n",
            "p.csv": "Symbol,Close\nA,100\n",
        }
        for holdings in ("h.csv", "h2.csv", "h.json"):
            doc = self.plan(
                capsys, tmp_path, files, "--holdings", holdings, "--targets", "t.csv",
                "--prices", "p.csv",
            )  # fmt: skip

            assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)

    def test_a_column_wins_over_its_alias(self, capsys, tmp_path, monkeypatch):
        """`price` is the price even when the export also has a `Close` column."""
        monkeypatch.chdir(tmp_path)
        files = {
            "h.csv": "asset,quantity,price,close\nA,10,100,1\nB,20,50,1\nCASH,1000,,\n",
            "t.csv": TARGETS,
        }
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert 3_000.0 == doc["equity"]

    def test_config_file_then_flags(self, capsys, tmp_path, monkeypatch):
        """Flags override the config file, which overrides the defaults."""
        monkeypatch.chdir(tmp_path)
        files = {
            "h.csv": HOLDINGS,
            "t.csv": TARGETS,
            "c.toml": "min_trade_value = 0\nallow_fractional = true\n",
            "c.json": json.dumps({"min_trade_value": 0, "allow_fractional": True}),
        }
        for config in ("c.toml", "c.json"):
            doc = self.plan(
                capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
                "--config", config,
            )  # fmt: skip
            assert [("buy", "A", 2.0), ("buy", "B", 4.0)] == self.orders(doc)
        doc = self.plan(
            capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
            "--config", "c.toml", "--no-allow-fractional", "--min-trade-value", "250",
        )  # fmt: skip

        assert [] == self.orders(doc)
        assert {"trade_value_too_small"} == {s["reason"] for s in doc["skipped"]}

    def test_sleeve_flag_keeps_untargeted(self, capsys, tmp_path, monkeypatch):
        """`--no-close-untargeted` leaves a holding outside the targets alone."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,0.5\n"}
        doc = self.plan(
            capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
            "--no-close-untargeted",
        )  # fmt: skip

        assert [("buy", "A", 5)] == self.orders(doc)
        assert {"B": "not_targeted"} == {s["asset"]: s["reason"] for s in doc["skipped"]}

    def test_fractional_quantities(self, capsys, tmp_path, monkeypatch):
        """With `--allow-fractional`, the table prints fractional quantities without noise."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,0.5,3\nCASH,1000,\n"})
        write(tmp_path, {"t.csv": "asset,weight\nA,0.5\n"})
        status, out, _ = run_inline(
            capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv", "--allow-fractional",
            "--relative-band", "0.1",
        )  # fmt: skip

        assert 0 == status
        assert re.search(r"BUY\s+A\s+166\.416667\s+3\.00\s+499\.25", out)

    def test_band_reason_names_both_bands(self, capsys, tmp_path, monkeypatch):
        """A skip under a relative band names both bands and their sizes for the asset."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,57,100\nCASH,4300,\n"})
        write(tmp_path, {"t.csv": "asset,weight\nA,0.6\n"})
        status, out, _ = run_inline(
            capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv",
            "--min-weight-change", "0.05", "--relative-band", "0.25",
        )  # fmt: skip

        assert 0 == status
        assert (
            "change 3.00% is inside both bands: 5.00% (min_weight_change) and "
            "15.00% (relative_band 0.25 x target)"
        ) in out

    def test_skip_explains_the_rounded_trade(self, capsys, tmp_path, monkeypatch):
        """The explanation gives the change that was compared: the rounded trade's, not the gap.

        A is 1.85 points under target, but whole shares (380 each) move it by only 0.95.
        """
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,42,380\nCASH,24040,\n"})
        write(tmp_path, {"t.csv": "asset,weight\nA,0.4175\n"})
        status, out, _ = run_inline(capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv")

        assert 0 == status
        assert (
            "change 0.95% (1 unit; 1.85% before rounding) is below min_weight_change 1.00%"
        ) in out

    def test_skip_explains_the_rounded_trade_value(self, capsys, tmp_path, monkeypatch):
        """A trade too small in value names its rounded value and the unrounded one."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,42,380\nCASH,24040,\n"})
        write(tmp_path, {"t.csv": "asset,weight\nA,0.4175\n"})
        status, out, _ = run_inline(
            capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv", "--min-weight-change",
            "0", "--min-trade-value", "500", "--format", "json",
        )  # fmt: skip

        assert 0 == status
        assert [
            "trade 380.00 (1 unit; 740.00 before rounding) is below min_trade_value 500.00"
        ] == [s["explanation"] for s in json.loads(out)["skipped"]]

    def test_skip_explains_rounding_to_lots_and_closest(self, capsys, tmp_path, monkeypatch):
        """Lots and CLOSEST rounding are the ones the planner used for the compared change."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\nA,400,10\nCASH,5600,\n"})
        write(tmp_path, {"lots.csv": "asset,weight\nA,0.5417\n"})
        write(tmp_path, {"t.csv": "asset,weight\nA,0.4684\n"})
        args = ("plan", "--holdings", "h.csv", "--min-weight-change", "0.11")
        _, lots, _ = run_inline(
            capsys, *args, "--targets", "lots.csv", "--round-lots", "--lot-size", "100"
        )
        _, fractional_lots, _ = run_inline(
            capsys, *args, "--targets", "lots.csv", "--round-lots", "--lot-size", "100",
            "--allow-fractional",
        )  # fmt: skip
        args = ("plan", "--holdings", "h.csv", "--targets", "t.csv", "--min-weight-change", "0.06")
        _, down, _ = run_inline(capsys, *args)
        _, closest, _ = run_inline(capsys, *args, "--rounding", "closest")

        assert "change 10.42% (100 units; 12.50% before rounding) is below" in lots
        assert "change 10.42% (100 units; 12.50% before rounding) is below" in fractional_lots
        assert "change 5.10% (49 units; 5.17% before rounding) is below" in down
        assert "change 5.21% (50 units; 5.17% before rounding) is below" in closest

    @pytest.mark.parametrize(
        "example",
        [
            pytest.param(
                ("A,42,380\nCASH,24040,\n", "0.404", [],
                 "change 0.50% is below min_weight_change 1.00%"),
                id="no whole unit fits: the unrounded gap was compared",
            ),
            pytest.param(
                ("A,100,1\nCASH,19999999900,\n", "0.000000001025", [],
                 "change 0.00% (100 units; 0.00% before rounding) is below min_weight_change"),
                id="a dust remainder is a close",
            ),
            pytest.param(
                ("A,10,100\nCASH,1000,\n", "0.98",
                 ["--rounding", "closest", "--max-single-weight", "0.98", "--min-weight-change",
                  "0.5"],
                 "change 45.00% (9 units; 48.00% before rounding) is below min_weight_change"),
                id="closest never rounds above the cap",
            ),
        ],
    )  # fmt: skip
    def test_skip_explanation_edges(self, capsys, tmp_path, monkeypatch, example):
        """The compared trade follows the planner's rounding at its edges too."""
        holdings, weight, flags, explanation = example
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": "asset,quantity,price\n" + holdings})
        write(tmp_path, {"t.csv": f"asset,weight\nA,{weight}\n"})
        status, out, _ = run_inline(
            capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv", "--format", "json",
            *flags,
        )  # fmt: skip

        assert 0 == status
        assert [explanation] == [
            s["explanation"][: len(explanation)] for s in json.loads(out)["skipped"]
        ]

    def test_zero_quantity_needs_no_price(self, capsys, tmp_path, monkeypatch):
        """A holdings row with quantity 0 may leave the price empty: it is not held."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS + "C,0,\n", "t.csv": TARGETS}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert [("buy", "A", 2), ("buy", "B", 4)] == self.orders(doc)

    def test_margin_allows_a_weight_above_one(self, capsys, tmp_path, monkeypatch):
        """With `--margin` and `--max-single-weight 2`, a weight of 1.5 is planned (borrowing)."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,1.5\n"}
        doc = self.plan(
            capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv", "--margin",
            "--max-single-weight", "2",
        )  # fmt: skip

        assert [("sell", "B", 20), ("buy", "A", 35)] == self.orders(doc)
        assert -1_500.0 == doc["projected_cash"]

    def test_margin_and_allow_short_plan_a_short(self, capsys, tmp_path, monkeypatch):
        """A negative weight with `--allow-short --margin` is a short sale, as asked."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,0.4\nB,-10%\n"}
        doc = self.plan(
            capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
            "--allow-short", "--margin",
        )  # fmt: skip

        assert [("sell", "B", 20), ("sell", "B", 6), ("buy", "A", 2)] == self.orders(doc)

    def test_negative_noise_is_a_zero_weight(self, capsys, tmp_path, monkeypatch):
        """An optimizer's -1e-17 is not a short: the weight counts as 0 and B is closed."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": "asset,weight\nA,0.4\nB,-1e-17\n"}
        doc = self.plan(capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv")

        assert [("sell", "B", 20), ("buy", "A", 2)] == self.orders(doc)

    def test_optional_field_flag_takes_none(self, capsys, tmp_path, monkeypatch):
        """An optional field's flag accepts `none`, undoing the config file's value."""
        monkeypatch.chdir(tmp_path)
        files = {"h.csv": HOLDINGS, "t.csv": TARGETS, "c.toml": "relative_band = 0.25\n"}
        doc = self.plan(
            capsys, tmp_path, files, "--holdings", "h.csv", "--targets", "t.csv",
            "--config", "c.toml", "--relative-band", "none", "--rounding", "closest",
        )  # fmt: skip

        assert 2 == len(doc["orders"])


def case(name, files, args, fragment):
    return pytest.param(files, args, fragment, id=name)


BAD_CASES = [
    case("missing file", {}, ["--holdings", "nope.csv", "--targets", "t.csv"], "nope.csv: no such"),
    case("directory", {}, ["--holdings", ".", "--targets", "t.csv"], ".: is a directory"),
    case("no holdings", {}, ["--targets", "t.csv"], "plan needs --holdings (or --example)"),
    case("no files", {}, [], "plan needs --holdings and --targets"),
    case(
        "example with files",
        {},
        ["--example", "--holdings", "h.csv", "--targets", "t.csv"],
        "--example plans the bundled example account and cannot be combined with --holdings "
        "and --targets; drop --example",
    ),
    case(
        "example with targets",
        {},
        ["--example", "--targets", "t.csv"],
        "cannot be combined with --targets;",
    ),
    case(
        "bad quantity",
        {"h.csv": "asset,quantity,price\nA,10,100\nB,ten,50\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 3, quantity: expected a number, got 'ten'",
    ),
    case(
        "missing column",
        {"h.csv": "asset,amount,price\nA,10,100\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 1: the header must name the columns asset,quantity,price,account (quantity "
        "required; quantity may also be named shares or qty), got 'asset,amount,price'",
    ),
    case(
        "twice",
        {"h.csv": "asset,quantity,price\nA,10,100\n\nA,5,100\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 4: 'A' appears twice (also at h.csv, line 2)",
    ),
    case(
        "held without price",
        {"h.csv": "asset,quantity,price\nA,10,\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2, price: 'A' is held (10) but has no price",
    ),
    case(
        "negative price",
        {"h.csv": "asset,quantity,price\nA,10,-5\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2, price: a price must be > 0, got '-5'",
    ),
    case(
        "empty",
        {"h.csv": ""},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv: the file is empty",
    ),
    case(
        "header only",
        {"h.csv": "asset,quantity,price\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv: no data rows after the header (line 1)",
    ),
    case(
        "extra field",
        {"h.csv": "asset,quantity,price\nA,10,100,7\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2: 4 fields, but the header (line 1) has 3",
    ),
    case(
        "duplicate column",
        {"h.csv": "asset,quantity,quantity,price\nA,10,10,100\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 1: the header has the column 'quantity' twice",
    ),
    case(
        "cash row with a price",
        {"h.csv": "asset,quantity,price\nCASH,100,2\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2, price: the cash row takes no price, got '2'",
    ),
    case(
        "empty asset",
        {"h.csv": "asset,quantity,price\n,10,100\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2, asset: the asset name is empty",
    ),
    case(
        "not utf-8",
        {"h.csv": b"asset,quantity,price\n\xff,1,1\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2: not UTF-8 text (byte 0xff)",
    ),
    case(
        "nul byte",
        {"h.csv": "asset,quantity,price\nA\x00,1,1\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 2: contains a NUL byte",
    ),
    case(
        "unclosed quote",
        {"t.csv": 'asset,weight\nA,"0.5\n'},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 2: not valid CSV",
    ),
    case(
        "nan weight",
        {"t.csv": "asset,weight\nA,nan\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 2, weight: expected a finite number, got 'nan'",
    ),
    case(
        "empty weight",
        {"t.csv": "asset,weight\nA,\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 2, weight: the weight is empty",
    ),
    case(
        "percent as a number",
        {"t.json": '{"A": 60, "B": 40}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 1, 'A': a weight is a fraction of equity (0.25 or 25%) between 0 and 1 "
        "in a cash account (--margin allows more), got 60 for 'A'",
    ),
    case(
        "target differs from a holding only by case",
        {"t.csv": "asset,weight\nA,0.4\nb,0.4\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 3: the target 'b' matches 'B' (held at h.csv, line 3) only by case; "
        "asset names are case-sensitive",
    ),
    case(
        "json target differs from a holding only by case",
        {"t.json": '{"A": 0.4,\n "b": 0.4}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 2, 'b': the target 'b' matches 'B' (held at h.csv, line 3) only by case",
    ),
    case(
        "target differs from a json position only by case",
        {
            "h.json": '{"cash": 10, "positions": {"B": 1}, "prices": {"B": 5}}',
            "t.csv": "asset,weight\nb,0.4\n",
        },
        ["--holdings", "h.json", "--targets", "t.csv"],
        "the target 'b' matches 'B' (held at h.json, line 1, positions['B']) only by case",
    ),
    case(
        "target differs from a price only by case",
        {"p.csv": "asset,price\nC,5\n", "t.csv": "asset,weight\nA,0.4\nc,0.1\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.csv"],
        "t.csv, line 3: the target 'c' matches 'C' (priced at p.csv, line 2) only by case",
    ),
    case(
        "negative weight without --allow-short",
        {"t.csv": "asset,weight\nA,0.4\nB,-10%\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 3, weight: the negative weight '-10%' of 'B' asks for a short position; "
        "pass --allow-short (and --margin) to plan it, or give 0 to close the holding",
    ),
    case(
        "negative weight in a cash account",
        {"t.json": '{"A": 0.4,\n "B": -0.1}'},
        ["--holdings", "h.csv", "--targets", "t.json", "--allow-short"],
        "t.json, line 2, 'B': the negative weight -0.1 of 'B' asks for a short position, which "
        "needs a margin account; pass --margin",
    ),
    case(
        "weight above 1 in a cash account",
        {"t.csv": "asset,weight\nA,1.5\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--max-single-weight", "2"],
        "t.csv, line 2, weight: a weight is a fraction of equity (0.25 or 25%) between 0 and 1 "
        "in a cash account (--margin allows more), got '1.5' for 'A'",
    ),
    case(
        "weight above max_single_weight in a margin account",
        {"t.csv": "asset,weight\nA,150%\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--margin"],
        "t.csv, line 2, weight: a weight is a fraction of equity (0.25 or 25%) between 0 and 1 "
        "in a margin account with max_single_weight 1 (--max-single-weight allows more), "
        "got '150%' for 'A'",
    ),
    case(
        "percentage without % in a margin account",
        {"t.csv": "asset,weight\nA,60\n"},
        [
            "--holdings",
            "h.csv",
            "--targets",
            "t.csv",
            "--margin",
            "--allow-short",
            "--max-single-weight",
            "2",
        ],
        "a weight is a fraction of equity (0.25 or 25%) between -2 and 2 in a margin account "
        "with max_single_weight 2",
    ),
    case(
        "two aliases of one column",
        {"h.csv": "Symbol,Shares,Last,Close\nA,10,100,99\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 1: both 'last' and 'close' could be the price column; name one of them "
        "'price'",
    ),
    case(
        "a prices row spelled like a holding except for case",
        {"p.csv": "asset,price\na,110\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.csv"],
        "p.csv, line 2: the price of 'a' matches 'A' only by case; asset names are "
        "case-sensitive, so spell them the same in every file",
    ),
    case(
        "a short holding in a cash account",
        {"h.csv": "asset,quantity,price\nA,10,100\nB,-160,50\nCASH,1200,\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 3: 'B' is held short (-160), which a cash account cannot; pass --margin "
        "for a margin account",
    ),
    case(
        "a short holding in one of several cash accounts",
        {"h.csv": "account,asset,quantity,price\nira,B,10,50\ntax,B,-1,50\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 3: 'B' is held short (-1), which a cash account cannot; pass --margin "
        "for a margin account",
    ),
    case(
        "an asset class column beside the tickers",
        {"t.csv": "Ticker,Weight,Asset\nA,75%,Stocks\nB,25%,Bonds\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 1: both 'asset' and 'ticker' could be the asset column; rename or remove "
        "one of them",
    ),
    case(
        "a quantity column beside shares",
        {"h.csv": "Symbol,Shares,Quantity,Price\nA,10,5,100\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 1: both 'quantity' and 'shares' could be the quantity column; rename or "
        "remove one of them",
    ),
    case(
        "json rows with two aliases",
        {"h.json": '[{"symbol": "A", "ticker": "A", "qty": 1}]'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, item 1: both 'symbol' and 'ticker' could be the asset column",
    ),
    case(
        "cash target",
        {"t.csv": "asset,weight\nA,0.5\nCash,0.5\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 3, asset: cash is not a target",
    ),
    case(
        "weight string in json",
        {"t.json": '{"A": 0.5,\n "B": "half"}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 2, 'B': expected a number (or a percentage like 25%), got 'half'",
    ),
    case(
        "broken json",
        {"t.json": '{"A": 0.5,\n "B": 0.5'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 2: invalid JSON",
    ),
    case(
        "duplicate json key",
        {"t.json": '{"A": 0.5, "A": 0.4}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: invalid JSON: the key 'A' appears more than once",
    ),
    case(
        "json NaN",
        {"t.json": '{"A": NaN}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: invalid JSON: NaN is not a number JSON allows",
    ),
    case(
        "json wrong top level",
        {"t.json": "3"},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: expected an object of asset -> weight or a list of rows, got 3",
    ),
    case(
        "json empty targets",
        {"t.json": "{}"},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: no targets",
    ),
    case(
        "json row not an object",
        {"h.json": "[1]"},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json: item 1 must be an object, got 1",
    ),
    case(
        "json row without quantity",
        {"h.json": '[{"asset": "A"}]'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json: item 1 has no 'quantity'",
    ),
    case(
        "json row bad quantity",
        {"h.json": '[{"asset": "A", "quantity": true, "price": 1}]'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, item 1, quantity: expected a number, got a boolean",
    ),
    case(
        "json asset not a string",
        {"h.json": '[{"asset": 5, "quantity": 1, "price": 1}]'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, item 1, asset: expected an asset name, got 5",
    ),
    case(
        "json holdings unknown key",
        {"h.json": '{"cash": 1,\n "holdings": {}}'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, line 2, 'holdings': unknown key; a holdings object has cash, positions, prices",
    ),
    case(
        "json holdings price zero",
        {"h.json": '{"positions": {"A": 1},\n "prices": {"A": 0}}'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, line 2, prices['A']: a price must be > 0, got 0",
    ),
    case(
        "json positions not an object",
        {"h.json": '{"positions": [1]}'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, line 1, 'positions': expected an object, got a list",
    ),
    case(
        "json huge integer",
        {"p.json": '{"A": 1' + "0" * 400 + "}"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.json"],
        "p.json, line 1, 'A': expected a finite number",
    ),
    case(
        "prices without price",
        {"p.csv": "asset,price\nA,\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.csv"],
        "p.csv, line 2, price: the price is empty",
    ),
    case(
        "prices twice",
        {"p.csv": "asset,price\nA,1\nA,2\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.csv"],
        "p.csv, line 3: 'A' appears twice (also at p.csv, line 2)",
    ),
    case(
        "conflicting prices",
        {"t.csv": "asset,weight,price\nA,0.5,101\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "t.csv, line 2, price: the price of 'A' is 101.0 but h.csv, line 2, price says 100.0",
    ),
    case(
        "unknown config field",
        {"c.toml": "min_trade_value = 100\nmin_weigth_change = 0.02\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.toml"],
        "c.toml, line 2, min_weigth_change: unknown config field; did you mean 'min_weight_c",
    ),
    case(
        "config value out of range",
        {"c.toml": "# costs\nmin_trade_value = -1\n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.toml"],
        "c.toml, line 2, min_trade_value: RebalanceConfig.min_trade_value must be in [0.0, inf)",
    ),
    case(
        "config bad toml",
        {"c.toml": "min_trade_value = \n"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.toml"],
        "c.toml, line 1: invalid TOML",
    ),
    case(
        "config bad enum in json",
        {"c.json": '{\n  "direction": "up"\n}'},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.json"],
        "c.json, line 2, direction: RebalanceConfig.direction must be one of",
    ),
    case(
        "config not an object",
        {"c.json": "[]"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.json"],
        "c.json: expected an object of config fields, got a list",
    ),
    case(
        "cash flag",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--cash", "lots"],
        "argument --cash: expected a number, got 'lots'",
    ),
    case(
        "number flag",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--min-trade-value", "inf"],
        "argument --min-trade-value: expected a number, got 'inf'",
    ),
    case(
        "enum flag",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--direction", "up"],
        "argument --direction: expected one of both, buy-only, sell-only, got 'up'",
    ),
    case(
        "flag out of range",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--cash-buffer", "2"],
        "argument --cash-buffer: must be in [0.0, 1.0), got 2.0",
    ),
    case(
        "negative minimum flag",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--min-trade-value", "-5"],
        "argument --min-trade-value: must be in [0.0, inf), got -5.0",
    ),
    case(
        "equity overflows",
        {"h.csv": "asset,quantity,price\nA,1e300,1e300\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "equity (cash + positions * prices * multipliers) overflows",
    ),
    case(
        "json empty file",
        {"t.json": "  \n"},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: the file is empty",
    ),
    case(
        "json too many digits",
        {"p.json": '{"A": 1' + "0" * 5000 + "}"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.json"],
        "p.json: invalid JSON: 'Exceeds the limit",
    ),
    case(
        "json empty list",
        {"h.json": "[]"},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json: the list is empty",
    ),
    case(
        "json holdings a string",
        {"h.json": '"A"'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json: expected a list of rows or an object, got the string 'A'",
    ),
    case(
        "json null weight",
        {"t.json": '{"A": null}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 1, 'A': expected a number, got null",
    ),
    case(
        "json object weight",
        {"t.json": '{"A": {"w": 1}}'},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json, line 1, 'A': expected a number, got an object",
    ),
    case(
        "json null price",
        {"p.json": '{"A": null}'},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.json"],
        "p.json, line 1, 'A': expected a price > 0, got None",
    ),
    case(
        "json holdings null price",
        {"h.json": '{"positions": {"A": 1}, "prices": {"A": null}}'},
        ["--holdings", "h.json", "--targets", "t.csv"],
        "h.json, line 1, prices['A']: expected a price > 0, got None",
    ),
    case(
        "json prices wrong shape",
        {"p.json": "7"},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.json"],
        "p.json: expected an object of asset -> price or a list of rows",
    ),
    case(
        "json price rows",
        {"p.json": '[{"asset": "A", "price": "x"}]'},
        ["--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.json"],
        "p.json, item 1, price: expected a number, got 'x'",
    ),
    case(
        "sniffed json without extension",
        {"targets": '{"A": 2}'},
        ["--holdings", "h.csv", "--targets", "targets"],
        "targets, line 1, 'A': a weight is a fraction of equity (0.25 or 25%) between 0 and 1",
    ),
    case(
        "sniffed csv without extension",
        {"targets": "asset\tweight\nA\t2\n"},
        ["--holdings", "h.csv", "--targets", "targets"],
        "targets, line 2, weight: a weight is a fraction of equity (0.25 or 25%) between 0 and",
    ),
    case(
        "config flag not a number",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--lot-size", "ten"],
        "argument --lot-size: expected a number, got 'ten'",
    ),
    case(
        "unknown config field without a close match",
        {"c.json": '{"colour": "red"}'},
        ["--holdings", "h.csv", "--targets", "t.csv", "--config", "c.json"],
        "c.json, line 1, colour: unknown config field; the fields are min_trade_value, ",
    ),
    case(
        "one column",
        {"h.csv": "asset\nA\n"},
        ["--holdings", "h.csv", "--targets", "t.csv"],
        "h.csv, line 1: the header must name the columns asset,quantity,price",
    ),
    case(
        "json nested too deeply",
        {"t.json": "[" * 100_000},
        ["--holdings", "h.csv", "--targets", "t.json"],
        "t.json: invalid JSON: nested too deeply",
    ),
    case(
        "unknown format",
        {},
        ["--holdings", "h.csv", "--targets", "t.csv", "--format", "xml"],
        "argument --format: invalid choice: 'xml'",
    ),
]


class TestBadInput:
    @pytest.fixture
    def folder(self, tmp_path, monkeypatch):
        write(tmp_path, {"h.csv": HOLDINGS, "t.csv": TARGETS})
        monkeypatch.chdir(tmp_path)
        return tmp_path

    @pytest.mark.parametrize(("files", "args", "fragment"), BAD_CASES)
    def test_process_exits_2_with_one_line(self, folder, files, args, fragment):
        """A bad file or value: status 2, nothing on stdout, one line naming what is wrong."""
        write(folder, files)
        done = run_process("plan", *args, cwd=folder)

        assert (2, "") == (done.returncode, done.stdout)
        assert 1 == len(done.stderr.splitlines()), done.stderr
        assert fragment in done.stderr
        assert done.stderr.startswith("rebalancing")

    @pytest.mark.parametrize(("files", "args", "fragment"), BAD_CASES)
    def test_main_returns_2(self, capsys, folder, files, args, fragment):
        """`main()` reports the same message and returns (or exits with) status 2."""
        write(folder, files)
        status, out, err = run_inline(capsys, "plan", *args)

        assert (2, "") == (status, out)
        assert fragment in err

    def test_no_command(self, capsys):
        """Without a command, the usage error is one line and the status is 2."""
        status, _, err = run_inline(capsys)

        assert 2 == status
        assert 1 == len(err.splitlines())


def console_examples(page):
    """(command, expected output) for each `$ ` line in the page's console blocks."""
    path = DOCS / page
    if not path.exists():
        yield pytest.param("missing", "", id=f"{page}: missing")
        return
    text = path.read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            yield pytest.param(command, output, id=f"{page}: {command}")


DOC_EXAMPLES = [example for page in DOC_PAGES for example in console_examples(page)]


class TestDocs:
    def test_docs_have_console_examples(self):
        """The doc pages show the command line at work (and this module runs each example)."""
        assert len(DOC_EXAMPLES) >= len(DOC_PAGES)

    def test_every_console_example_is_run(self):
        """Every page with a `$ rebalancing` console example is in DOC_PAGES."""
        pages = set()
        for path in DOCS.rglob("*.md"):
            blocks = re.findall(
                r"```console\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL
            )
            if "_build" not in path.parts and any("$ rebalancing " in b for b in blocks):
                pages.add(path.relative_to(DOCS).as_posix())

        assert set() == pages - set(DOC_PAGES)

    @pytest.mark.parametrize(("command", "expected"), DOC_EXAMPLES)
    def test_console_example(self, command, expected):
        """Each documented command prints exactly what the page shows, from docs/files."""
        program, *args = shlex.split(command)
        done = run_process(*args, cwd=DOC_FILES)
        shown = done.stdout if done.returncode == 0 else done.stderr

        assert "rebalancing" == program
        assert expected.rstrip() == "\n".join(line.rstrip() for line in shown.splitlines())


class TestCashAccount:
    FILES = {  # noqa: RUF012 - read only
        "h.csv": "asset,quantity\nVTI,10\n",
        "t.csv": "asset,weight\nVTI,60%\nBND,30%\nVXUS,20%\nGLD,10%\n",
        "p.csv": "asset,price\nVTI,250\nBND,72\nVXUS,60\nGLD,190\n",
    }
    ARGS = ("--holdings", "h.csv", "--targets", "t.csv", "--prices", "p.csv", "--cash", "20000")

    def test_targets_over_one_never_overdraw_and_say_so(self, capsys, tmp_path, monkeypatch):
        """Regression: 60/30/20/10% printed 'Projected cash -4,668.00' and exited 0."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, self.FILES)

        status, out, err = run_inline(capsys, "plan", *self.ARGS)

        assert (0, "") == (status, err)
        cash = next(line for line in out.splitlines() if "Projected cash" in line)
        assert float(cash.split()[-1].replace(",", "")) >= 0.0
        assert "the targets sum to 120.00%; a cash account does not borrow" in out

    def test_a_margin_account_borrows_and_no_note(self, capsys, tmp_path, monkeypatch):
        """--margin: the same targets are a loan the user asked for."""
        monkeypatch.chdir(tmp_path)
        write(tmp_path, self.FILES)

        status, out, _ = run_inline(capsys, "plan", *self.ARGS, "--margin")

        assert 0 == status
        cash = next(line for line in out.splitlines() if "Projected cash" in line)
        assert float(cash.split()[-1].replace(",", "")) < 0.0
        assert "does not borrow" not in out


class TestAccounts:
    """A holdings file with an account column plans every account to the same targets."""

    HOLDINGS = (
        "account,asset,quantity,price\n"
        "IRA,CASH,5000,\nIRA,VTI,10,250\n"
        "TAX,CASH,20000,\nTAX,BND,50,72\nTAX,VTI,0,250\n"
    )
    TARGETS = "asset,weight\nVTI,60%\nBND,40%\n"

    def plan_files(self, capsys, tmp_path, monkeypatch, *args, holdings=HOLDINGS):
        monkeypatch.chdir(tmp_path)
        write(tmp_path, {"h.csv": holdings, "t.csv": self.TARGETS})
        return run_inline(capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv", *args)

    def test_each_account_is_planned_on_its_own(self, capsys, tmp_path, monkeypatch):
        """Each account's orders are what compute_trades plans for that account alone."""
        status, out, err = self.plan_files(capsys, tmp_path, monkeypatch, "--format", "json")

        assert (0, "") == (status, err)
        accounts = json.loads(out)["accounts"]
        assert ["IRA", "TAX"] == [a["account"] for a in accounts]
        prices = {"VTI": 250.0, "BND": 72.0}
        for account, (cash, positions) in {
            "IRA": (5000.0, {"VTI": 10}),
            "TAX": (20000.0, {"BND": 50, "VTI": 0}),
        }.items():
            alone = compute_trades(
                PortfolioSnapshot(cash, positions, prices),
                {"VTI": 0.6, "BND": 0.4},
                RebalanceConfig(),
            )
            document = next(a for a in accounts if a["account"] == account)
            assert [(o.side.value, o.asset, o.quantity) for o in alone] == [
                (o["side"], o["asset"], o["quantity"]) for o in document["orders"]
            ]
            assert round(alone.projected_cash, 2) == document["projected_cash"]

    def test_the_table_is_grouped_by_account(self, capsys, tmp_path, monkeypatch):
        status, out, _ = self.plan_files(capsys, tmp_path, monkeypatch)

        assert 0 == status
        assert out.index("Account IRA\n===========") < out.index("Account TAX\n===========")
        assert 2 == out.count("Projected cash")

    def test_csv_carries_the_account(self, capsys, tmp_path, monkeypatch):
        status, out, _ = self.plan_files(capsys, tmp_path, monkeypatch, "--format", "csv")

        assert 0 == status
        rows = csv_rows(out)
        assert {"IRA", "TAX"} == {row["account"] for row in rows}
        assert "account" == out.splitlines()[0].split(",")[0]

    @pytest.mark.parametrize(
        ("holdings", "args", "fragment"),
        [
            (
                "account,asset,quantity,price\nIRA,VTI,10,250\n,BND,5,72\n",
                (),
                "h.csv, line 3, account: the account is empty",
            ),
            (
                "account,asset,quantity,price\nIRA,VTI,10,250\nIRA,VTI,5,250\n",
                (),
                "h.csv, line 3: 'VTI' appears twice (also at h.csv, line 2)",
            ),
            (
                "account,asset,quantity,price\nIRA,VTI,10,250\nTAX,VTI,5,251\n",
                (),
                "the price of 'VTI' is 251.0 but h.csv, line 2, price says 250.0",
            ),
            (HOLDINGS, ("--cash", "100"), "--cash sets the cash of one account"),
        ],
        ids=["empty account", "twice in one account", "two prices", "--cash"],
    )
    def test_bad_account_rows_are_refused(  # noqa: PLR0917 - pytest passes fixtures so
        self, capsys, tmp_path, monkeypatch, holdings, args, fragment
    ):
        status, out, err = self.plan_files(capsys, tmp_path, monkeypatch, *args, holdings=holdings)

        assert (2, "") == (status, out)
        assert fragment in err


def test_a_target_spelled_exactly_as_a_holding_is_accepted(capsys, tmp_path, monkeypatch):
    """Regression: with both 'VTI' and 'vti' held, the target 'vti' means 'vti'."""
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "h.csv": "asset,quantity,price\nVTI,10,250\nvti,5,10\nCASH,1000,\n",
            "t.csv": "asset,weight\nvti,50%\n",
        },
    )

    status, out, err = run_inline(
        capsys, "plan", "--holdings", "h.csv", "--targets", "t.csv", "--format", "json"
    )

    assert (0, "") == (status, err)
    assert {("sell", "VTI"), ("buy", "vti")} == {
        (o["side"], o["asset"]) for o in json.loads(out)["orders"]
    }
