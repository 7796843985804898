"""`heatwave ingest|run|stats`: the command line. Each subcommand imports only what it uses (start-up cost)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.settings import Settings, SettingsError

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heatwave", description="Heatwave: news alerts for Discord.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{ingest,run,stats}")

    ingest = sub.add_parser("ingest", help="ingest story files and folders into the database")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a .md file or a folder (recursive)")
    ingest.add_argument("--db", type=Path, help="database file (default: $HEATWAVE_DB or data/heatwave.db)")
    ingest.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    stats = sub.add_parser("stats", help="what the database holds")
    stats.add_argument("--db", type=Path, help="database file (default: $HEATWAVE_DB or data/heatwave.db)")
    stats.add_argument("--json", action="store_true", help="print one JSON object")

    run = sub.add_parser(
        "run", help="start the bot (with DISCORD_TOKEN) or the console playground (without one)"
    )
    run.add_argument("--db", type=Path, help="database file (default: $HEATWAVE_DB or data/heatwave.db)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db_path: Path = args.db if args.db is not None else settings.db_path

    if args.command == "ingest":
        from bot.ingest.command import ingest_command

        return ingest_command(settings, args.paths, db_path=db_path, as_json=args.json)
    if args.command == "stats":
        from bot.stats_command import stats_command

        return stats_command(db_path=db_path, as_json=args.json)
    from bot.runner import run_command

    return run_command(settings, db_path=db_path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
