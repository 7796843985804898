"""`heatwave ingest|run|stats|copy-store|doctor`: the command line.

Each subcommand imports only what it uses (start-up cost).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.settings import Settings, SettingsError
from db.location import parse_location

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


_DB_HELP = "database file, or postgresql://user:password@host:port/dbname (default: $HEATWAVE_DB or data/heatwave.db)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heatwave", description="Heatwave: news alerts for Discord.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{ingest,run,stats,copy-store,doctor}")

    ingest = sub.add_parser("ingest", help="ingest story files and folders into the database")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a .md file or a folder (recursive)")
    ingest.add_argument("--db", help=_DB_HELP)
    ingest.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    stats = sub.add_parser("stats", help="what the database holds")
    stats.add_argument("--db", help=_DB_HELP)
    stats.add_argument("--json", action="store_true", help="print one JSON object")

    run = sub.add_parser(
        "run", help="start the bot (with DISCORD_TOKEN) or the console playground (without one)"
    )
    run.add_argument(
        "--db",
        help="database file, or postgresql://user:password@host:port/dbname (default: $HEATWAVE_DB, else "
        "data/heatwave.db for the bot and data/playground.db for the console playground)",
    )

    copy = sub.add_parser(
        "copy-store",
        help="copy a whole store to another file or database (either engine), verified",
        description="Copy everything (stories, topics, heat history, subscriptions, pauses, the delivery ledger, "
        "app state) from SOURCE to TARGET, then verify the counts of every table.",
    )
    copy.add_argument("source", metavar="SOURCE", help="database file or postgresql:// URL to copy from")
    copy.add_argument("target", metavar="TARGET", help="database file or postgresql:// URL to copy into")
    copy.add_argument("--force", action="store_true", help="replace whatever TARGET holds")
    copy.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    sub.add_parser(
        "doctor",
        help="check settings, store, news folder, token, gateway, commands, channel permissions and clock",
        description="Check this deployment and print one line per check (✓ or ✗ with how to fix it); "
        "exit 0 when every check passes, 1 otherwise.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "copy-store":
        # Names both stores itself: neither the settings nor HEATWAVE_DB take part.
        from bot.copy_command import copy_store_command

        return copy_store_command(args.source, args.target, force=args.force, as_json=args.json)
    if args.command == "doctor":
        # Reads the settings itself: a setting that does not parse is one of the problems it reports.
        from bot.doctor import doctor_command

        return doctor_command()
    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(f"heatwave: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = settings.store if args.db is None else parse_location(args.db)
    except ValueError as exc:
        print(f"heatwave: --db {exc}", file=sys.stderr)
        return EXIT_USAGE

    if args.command == "ingest":
        from bot.ingest.command import ingest_command

        return ingest_command(settings, args.paths, store=store, as_json=args.json)
    if args.command == "stats":
        from bot.sources import git_sources
        from bot.stats_command import stats_command

        return stats_command(store=store, as_json=args.json, sources=git_sources(settings.sources))
    from bot.runner import run_command

    # Without --db the runner picks: the settings' store for the bot, the playground's own for the playground.
    return run_command(settings, store=store if args.db is not None else None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
