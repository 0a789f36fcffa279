"""Command line: python -m rnnviz report --preset vanishing --out report.html [--lang zh]

    report   write a self-contained HTML page of a preset's figures (works offline)
    lesson   write one interactive HTML file of a preset: its main figure and slider, no server needed
    presets  list the presets
    pretrain train the labs' stored runs again at their defaults (rnnviz/labs/pretrained/)
    script   print a PyTorch script that reproduces a preset's numbers
    catalog  add the app's new marked strings to the translation catalogs (see rnnviz.i18n)
"""
from __future__ import annotations

import argparse
import sys

from .files.lessons import PRESETS
from .i18n import DEFAULT, LANGUAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz", description="rnnviz from the command line")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write a self-contained HTML report of a preset")
    rep.add_argument("--preset", required=True, choices=list(PRESETS), metavar="NAME",
                     help="one of: " + ", ".join(PRESETS))
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--scale", type=float, default=1.0, help="font scale of the figures (1.35 for a projector)")
    rep.add_argument("--lang", choices=list(LANGUAGES), default=DEFAULT, help="the page's language (default: en)")
    les = sub.add_parser("lesson", help="write one interactive, self-contained HTML lesson of a preset")
    les.add_argument("--preset", required=True, choices=list(PRESETS), metavar="NAME",
                     help="one of: " + ", ".join(PRESETS))
    les.add_argument("--out", required=True, help="the HTML file to write")
    les.add_argument("--scale", type=float, default=1.0, help="font scale of the figure (1.35 for a projector)")
    les.add_argument("--lang", choices=list(LANGUAGES), default=DEFAULT, help="the page's language (default: en)")
    sub.add_parser("presets", help="list the presets")
    pre = sub.add_parser("pretrain", help="train the labs' stored runs again at their defaults, with a manifest")
    pre.add_argument("--lab", action="append", choices=("training_lab", "text_lab", "translation"),
                     help="only this lab's run (repeatable; default: every lab)")
    scr = sub.add_parser("script", help="print a PyTorch script that reproduces a preset's numbers")
    scr.add_argument("--preset", required=True, choices=list(PRESETS), metavar="NAME")
    scr.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="another cell than the preset's")
    sub.add_parser("catalog", help="add new marked strings to the translation catalogs, drop unused ones")
    args = parser.parse_args(argv)

    if args.command == "catalog":
        from . import i18n

        for lang in i18n.LOCALES:
            added, dropped = i18n.update_catalog(lang)
            print(f"{i18n.catalog_path(lang).relative_to(i18n.ROOT)}: {added} new strings to translate, "
                  f"{dropped} dropped")
        return 0

    if args.command == "presets":
        for p in PRESETS.values():
            print(f"{p.name:18s} {p.title}")
        return 0
    if args.command == "script":
        from .files.script import reproduce_script

        scenario = PRESETS[args.preset].scenario(**({"cell": args.cell} if args.cell else {}))
        sys.stdout.write(reproduce_script(scenario))
        return 0
    if args.command == "pretrain":
        from . import configure
        from .labs import pretrained

        configure(threads=1)  # as the app trains: the same numbers as pressing Train
        pretrained.pretrain(**({"labs": args.lab} if args.lab else {}))
        print(f"wrote {pretrained.DIR}")
        return 0
    if args.command == "lesson":
        from .files.offline import write_lesson

        path = write_lesson(args.preset, args.out, scale=args.scale, lang=args.lang)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): one file, opens in any browser without a "
              "server or network")
        return 0
    from .files.report import write_report

    path = write_report(args.preset, args.out, scale=args.scale, lang=args.lang)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): open it in any browser, no network needed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
