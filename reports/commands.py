"""``bnnsim report``: the HTML report of results (``--result``) or of a study
(``--storage``/``--study``), written whole into a folder (``--out``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="write an HTML report (tables, figures, a Perfetto trace) of results "
                       "or of a study",
        description="Write one self-contained index.html with its tables (CSV, Markdown), "
                    "figures (PNG, SVG, each with its data as CSV) and, for traced results, "
                    "a Chrome/Perfetto trace, into a new folder (or one an earlier report "
                    "wrote, which is replaced whole).")
    p.add_argument("--result", nargs="+", metavar="FILE",
                   help="result files from bnnsim simulate --json (several: side by side)")
    p.add_argument("--label", action="append", default=[], metavar="TEXT",
                   help="a name for each --result, in order (default: network, quantisation, "
                        "chip and engine)")
    p.add_argument("--storage", default=None,
                   help="a study's storage: a journal file or a database URL (with --study)")
    p.add_argument("--study", default=None, help="the study to report (with --storage)")
    p.add_argument("--out", required=True, metavar="DIR", help="the report's folder")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace, out: Outputs) -> int:
    if bool(args.result) == bool(args.study):
        raise ConfigError("give either --result FILE … or --storage URL --study NAME",
                          key="--result" if args.result else "--study",
                          value=args.study or "", has_value=bool(args.study))
    if args.label and (not args.result or len(args.label) != len(args.result)):
        raise ConfigError(f"give one --label per --result ({len(args.result or ())} results, "
                          f"{len(args.label)} labels)", key="--label",
                          value=args.label[0], has_value=True)
    if args.storage and not args.study:
        raise ConfigError("--storage needs --study NAME", key="--storage",
                          value=args.storage, has_value=True)
    if args.storage and args.result:
        raise ConfigError("--storage goes with --study, not with --result", key="--storage",
                          value=args.storage, has_value=True)
    if any(not label.strip() for label in args.label):
        raise ConfigError("a label may not be empty", key="--label", value="",
                          has_value=True)
    out.inputs(*(args.result or ()))
    if args.study:
        from explorer.defaults import DEFAULT_STORAGE
        from explorer.study import storage_file

        storage = args.storage or DEFAULT_STORAGE
        local = storage_file(storage)
        if local is not None:
            out.inputs(local)
    out.declare_folder("--out", args.out)
    from reports.build import result_report, study_report

    if args.result:
        from reports.tables import load_result

        docs = [load_result(path) for path in args.result]
        report = result_report(docs, labels=args.label or None, sources=args.result)
        what = f"{len(docs)} result{'s' if len(docs) > 1 else ''}"
    else:
        from explorer.study import load_existing_study, study_records

        study = load_existing_study(storage, args.study)
        records = study_records(study, storage=storage)
        report = study_report(records)
        what = f"study '{records.name}' ({len(records.trials)} trials)"
    out.stage("--out", report.write)
    size = sum(len(v) for v in report.files.values()) + len(report.html.encode())
    page = Path(args.out) / "index.html"
    out.on_commit(lambda: print(f"report of {what}: {page} ({len(report.files) + 1} files, "
                                f"{size / 1e6:.2f} MB)"))
    return 0
