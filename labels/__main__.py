"""Command line: ``python -m labels``.

This module owns argument parsing, reading CSV and code lists, the progress bar and the
mapping of errors to exit codes: 0 done, 1 printer unreachable, 2 bad input (with a
one-line message, never a traceback).

    python -m labels render K7M2QX4R9 -o item.png --title "Hex bolt" --line "Lot 7"
    python -m labels gs1 09506000134352 --lot LOT42 --expiry 271231 -o product.svg
    python -m labels batch --csv received.csv -o sheet.pdf --template a4-3x8
    python -m labels batch K7M2QX4R9 K8P3RT5W2 -o roll.zpl --template thermal-2x1
    python -m labels send 10.0.0.42 roll.zpl
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from labels.model import SYMBOLOGIES, Label, gs1_label
from labels.pdf import render_pdf
from labels.printer import DEFAULT_PORT, PrinterError, send_zpl
from labels.render import render_png, render_svg
from labels.templates import TEMPLATES
from labels.zpl import render_zpl

FORMATS = (".svg", ".png", ".pdf", ".zpl")
PROGRESS_FROM = 100  # labels; smaller batches finish before a bar would help


class UserError(Exception):
    """Bad input from the command line; reported without a traceback, exit code 2."""


class ProgressBar:
    """A plain-text progress bar on stderr, e.g. ``[##########..........] 500/1000``."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r[{bar}] {done}/{total} labels{end}")
        self.stream.flush()


def _format_of(path: str, allowed=FORMATS) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise UserError(f"output {path!r} must end in one of {', '.join(allowed)}")
    return suffix


def _write(path: str, data: str | bytes) -> None:
    try:
        if isinstance(data, str):
            Path(path).write_text(data, encoding="utf-8")
        else:
            Path(path).write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text") from exc


def _write_labels(labels: list[Label], output: str, template: str | None, dpi: int | None,
                  quiet: bool = False) -> None:  # fmt: skip
    """Render ``labels`` to ``output`` in the format its extension names."""
    fmt = _format_of(output)
    progress = None if quiet or len(labels) < PROGRESS_FROM else ProgressBar()
    if fmt in (".svg", ".png"):
        if len(labels) != 1:
            raise UserError(f"{fmt} holds one label; write several to .pdf or .zpl")
        if fmt == ".svg":
            data: str | bytes = render_svg(labels[0], size=template)
        else:
            data = render_png(labels[0], dpi=dpi or 300, size=template)
    elif fmt == ".pdf":
        default = "thermal-4x6" if len(labels) == 1 else "a4-3x8"
        data = render_pdf(labels, template or default, progress=progress)
    else:
        data = render_zpl(labels, template or "thermal-4x6", dpi or 203, progress=progress)
    _write(output, data)


def labels_from_csv(path: str, symbology: str, stage: str) -> list[Label]:
    """Labels from a CSV with a header: ``code`` and optionally ``symbology``, ``title``,
    ``lines`` (several separated by ``|``) and ``stage``."""
    rows = csv.DictReader(_read_text(path).splitlines())
    if not rows.fieldnames or "code" not in [f.strip().lower() for f in rows.fieldnames]:
        raise UserError(f"{path}: the first row must be a header naming a 'code' column")
    labels = []
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        lines = tuple(part.strip() for part in row.get("lines", "").split("|") if part.strip())
        try:
            labels.append(
                Label(
                    code=row["code"],
                    symbology=row.get("symbology") or symbology,
                    title=row.get("title", ""),
                    lines=lines,
                    stage=row.get("stage") or stage,
                )
            )
        except ValueError as exc:
            raise UserError(f"{path} line {number}: {exc}") from exc
    return labels


def labels_from_list(codes: list[str], symbology: str, stage: str, where: str) -> list[Label]:
    labels = []
    for number, code in codes:
        try:
            labels.append(Label(code=code, symbology=symbology, stage=stage))
        except ValueError as exc:
            raise UserError(f"{where}{number}: {exc}") from exc
    return labels


def cmd_render(args: argparse.Namespace) -> None:
    label = Label(args.code, args.symbology, args.title, tuple(args.line), args.stage, args.human)
    _write_labels([label], args.output, args.template, args.dpi)


def cmd_gs1(args: argparse.Namespace) -> None:
    label = gs1_label(
        args.gtin, lot=args.lot, serial=args.serial, expiry=args.expiry,
        title=args.title, lines=tuple(args.line), stage=args.stage,
    )  # fmt: skip
    _write_labels([label], args.output, args.template, args.dpi)


def cmd_batch(args: argparse.Namespace) -> None:
    labels: list[Label] = []
    if args.csv:
        labels += labels_from_csv(args.csv, args.symbology, args.stage)
    if args.codes:
        listed = [
            (n, line.strip())
            for n, line in enumerate(_read_text(args.codes).splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        labels += labels_from_list(listed, args.symbology, args.stage, f"{args.codes} line ")
    labels += labels_from_list(
        list(enumerate(args.code, start=1)), args.symbology, args.stage, "code #"
    )
    if not labels:
        raise UserError("no labels: give codes, --codes FILE or --csv FILE")
    _format_of(args.output, (".pdf", ".zpl"))
    _write_labels(labels, args.output, args.template, args.dpi, args.quiet)
    if not args.quiet:
        print(f"{len(labels)} labels written to {args.output}", file=sys.stderr)


def cmd_send(args: argparse.Namespace) -> None:
    zpl = _read_text(args.file)
    sent = send_zpl(args.host, zpl, port=args.port, timeout=args.timeout)
    print(f"sent {sent} bytes to {args.host}:{args.port}", file=sys.stderr)


def cmd_templates(args: argparse.Namespace) -> None:
    for t in TEMPLATES.values():
        print(f"{t.name:<13} {t.per_page:>3}/page  {t.label_width:6.1f} × {t.label_height:5.1f} mm"
              f"  {t.description}")  # fmt: skip


def _label_options(parser: argparse.ArgumentParser, symbology: bool = True) -> None:
    if symbology:
        parser.add_argument("--symbology", "-s", choices=SYMBOLOGIES, default="code128")
    parser.add_argument("--title", default="", help="product name")
    parser.add_argument("--line", action="append", default=[], help="extra line (repeatable)")
    parser.add_argument("--stage", default="", help="stage the label is printed for")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", required=True, help="file: .svg .png .pdf or .zpl")
    parser.add_argument("--template", "-t", choices=list(TEMPLATES), help="label stock")
    parser.add_argument("--dpi", type=int, help="PNG resolution (300) or printer dpi (203)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labels", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render one code to a file")
    p.add_argument("code")
    _label_options(p)
    p.add_argument("--human", help="text under the symbol (default: the code)")
    _output_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("gs1", help="render one GS1-128 label from a GTIN")
    p.add_argument("gtin")
    p.add_argument("--lot")
    p.add_argument("--serial")
    p.add_argument("--expiry", help="YYMMDD")
    _label_options(p, symbology=False)
    _output_options(p)
    p.set_defaults(func=cmd_gs1)

    p = sub.add_parser("batch", help="render many labels to a PDF sheet or a ZPL file")
    p.add_argument("code", nargs="*", help="codes to print")
    p.add_argument("--csv", help="CSV with columns code,symbology,title,lines,stage")
    p.add_argument("--codes", help="text file with one code per line")
    p.add_argument("--symbology", "-s", choices=SYMBOLOGIES, default="code128",
                   help="for codes and CSV rows that name none")  # fmt: skip
    p.add_argument("--stage", default="", help="for codes and CSV rows that name none")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _output_options(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("send", help="send a ZPL file to a network printer")
    p.add_argument("host")
    p.add_argument("file")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("templates", help="list the label templates")
    p.set_defaults(func=cmd_templates)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PrinterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
