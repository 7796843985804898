"""Ingest benchmark: cold `heatwave ingest` and an unchanged rescan against the raw front-matter parse loop.

    .venv/bin/python bench/ingest.py [--files 100000] [--keep] [--db PATH|URL]
    .venv/bin/python bench/ingest.py --db postgresql://postgres@127.0.0.1:5432/test   # the same into PostgreSQL
    .venv/bin/python bench/ingest.py --before /tmp/heatwave-main    # also time another checkout, in the same rounds

Generates N synthetic story files shaped like ../shared/corpus (LF and CRLF, every schema era, videos, related
lists, HTML entities and escaped CR/LF in excerpts, a few duplicate URLs), then measures, in one run:
  1. the raw parse loop: `frontmatter.load(path)` over the same files, one process (the practical limit of
     "just reading the files"; it stores nothing);
  2. cold `heatwave ingest DIR --json` in a subprocess (start-up, walk, stat, parse, store, all included);
  3. the same command again with nothing changed (the incremental rescan);
and prints the ratios the foundation issue sets targets for, plus peak memory. With `--before DIR` (another
checkout of Heatwave, e.g. `git worktree add /tmp/heatwave-main main`), each round also runs that checkout's cold
ingest into a fresh database, so a change is measured before and after against the same raw loop.

`--db` is a SQLite file (default: one in the temp folder) or the URL of a PostgreSQL server: each cold run then
gets a new database on that server (`heatwave_bench_ingest_<pid>`, dropped at the end unless --keep).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import frontmatter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.ingest.pipeline import RACY_WINDOW_NS
from db import StoreLocation, parse_location

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITES = {
    "artificial-intelligence": ["AI", "Machine Learning", "Computer Vision", "AI in Autos", "AI Ethics", "AWS AI"],
    "microsoft-power-apps": ["Power Apps", "Portals", "Teams integration", "Model-driven apps", "AI Builder"],
    "microsoft-power-bi": ["Power BI", "Power BI Desktop", "Power Query"],
    "microsoft-azure": ["Azure", "Analytics", "Networking", "Storage", "Identity", "Security"],
}
PROVIDERS = [
    ("Forbes", "forbes.com"),
    ("Microsoft", "microsoft.com"),
    ("South China Morning Post", "scmp.com"),
    ("VentureBeat", "venturebeat.com"),
    ("List of Banks in Belarus", "globalbankingandfinance.com"),
    ("Curbal", "curbal.com"),
]
WORDS = [
    "cloud",
    "data",
    "model",
    "apps",
    "power",
    "new",
    "release",
    "update",
    "wave",
    "preview",
    "general",
    "availability",
    "customers",
    "teams",
    "portal",
    "security",
    "machine",
    "learning",
    "vision",
    "language",
    "robots",
    "chips",
    "energy",
    "grid",
    "market",
    "startup",
    "funding",
    "research",
    "lab",
    "analytics",
    "dashboard",
    "report",
    "governance",
    "insight",
    "platform",
    "developer",
    "tools",
    "automation",
    "workflow",
]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def story_file(rng: random.Random, index: int, site: str) -> tuple[str, bytes]:
    """One file name and its bytes, in the corpus's key order and scalar styles."""
    day = 1 + index % 28
    month = 1 + (index // 28) % 12
    year = 2019 + (index // 336) % 3
    title = f"{_sentence(rng, 3, 14)} {index}"
    slug = "-".join(title.lower().split()[:10])
    # About 1 in 200 files re-publishes an earlier URL (the corpus has the same story under two paths).
    url_id = index - 1 if index % 200 == 199 else index
    video = url_id % 13 == 0
    old_schema = site == "artificial-intelligence" and rng.random() < 0.2
    excerpt = _sentence(rng, 8, 50)
    if rng.random() < 0.1:
        excerpt += " What&#8217;s next &amp; more"
    if rng.random() < 0.08:
        excerpt = excerpt.replace(" ", "\\r\\n\\r\\n", 1)
    lines = ["---", "category: news", f"title: {_quoted(title)}"]
    lines.append(f"excerpt: {_quoted(excerpt)}".replace("\\\\r\\\\n", "\\r\\n"))
    lines.append(f"publishedDateTime: {year}-{month:02}-{day:02}T{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:00Z")
    # The URL depends only on url_id, so a re-published story gets exactly its original's URL.
    provider_name, domain = PROVIDERS[url_id % len(PROVIDERS)]
    if video:
        link = f"https://youtube.com/watch?v=v{url_id:08x}"
        lines.append(f"originalUrl: {_quoted(link)}")
    else:
        link = f"https://www.{domain}/{2019 + url_id % 3}/articles/{url_id:07}"
        if not old_schema:
            lines.append(f"originalUrl: {_quoted(link)}")
        lines.append(f"webUrl: {_quoted(link)}")
        if rng.random() < 0.12:
            lines.append(f"ampWebUrl: {_quoted(link + '/amp/')}")
            lines.append(f"cdnAmpWebUrl: {_quoted('https://cdn.ampproject.org/c/s/' + link[8:] + '/amp/')}")
    lines.append(f"type: {'video' if video else 'article'}")
    if not old_schema:
        quality = rng.randint(4, 189)
        heat = -1 if rng.random() < 0.04 else quality + rng.choice((0, 0, 0, 10, 20, 50))
        lines += [f"quality: {quality}", f"heat: {heat}", f"published: {'true' if heat >= 70 else 'false'}"]
    if video:
        embed = f"https://www.youtube.com/embed/v{url_id:08x}"
        lines.append(f'featuredContent: "<iframe width=\\"800\\" height=\\"500\\" src=\\"{embed}\\"></iframe>"')
    lines += ["", "provider:", f"  name: {provider_name}", f"  domain: {domain}"]
    if rng.random() < 0.8:
        logo = f"https://smartableai.github.io/{site}/assets/images/organizations/{domain}-50x50.jpg"
        lines += ["  images:", f"    - url: {_quoted(logo)}", "      width: 50", "      height: 50"]
    topics = [SITES[site][0], *rng.sample(SITES[site][1:], rng.choice((0, 0, 1, 1, 2)))]
    rng.shuffle(topics)
    lines += ["", "topics:", *(f"  - {topic}" for topic in topics)]
    if rng.random() < 0.95:
        image = f"https://img.{domain}/{year}/{slug[:40]}.jpg"
        lines += ["", "images:", f"  - url: {_quoted(image)}", "    width: 1200", "    height: 675"]
        lines.append("    isCached: true" if not old_schema else f"    title: {_quoted(title)}")
    if site in ("artificial-intelligence", "microsoft-azure") and rng.random() < 0.3:
        lines += ["", "related:"]
        for _ in range(rng.choice((1, 1, 2, 3, 5, 7))):
            related_domain = rng.choice(PROVIDERS)[1]
            lines += [
                f"  - title: {_quoted(_sentence(rng, 4, 12))}",
                f"    excerpt: {_quoted(_sentence(rng, 10, 40))}",
                f"    publishedDateTime: {year}-{month:02}-{day:02}T{rng.randint(0, 23):02}:30:00Z",
                f'    webUrl: "https://www.{related_domain}/r/{rng.randrange(10**9)}"',
                "    type: article",
                "    provider:",
                f"      name: {related_domain.split('.')[0].title()}",
                f"      domain: {related_domain}",
                f"    quality: {rng.randint(0, 120)}",
            ]
    secured = base64.b64encode(rng.randbytes(rng.randint(250, 400))).decode()
    lines += [f"secured: {_quoted(secured + ';' + base64.b64encode(rng.randbytes(16)).decode())}", "---", "", ""]
    newline = "\r\n" if rng.random() < 0.25 else "\n"
    name = f"{year}-{month:02}-{day:02}-{slug[:80]}.md"
    return name, newline.join(lines).encode("utf-8")


def generate(folder: Path, count: int, seed: int = 20261126) -> tuple[list[Path], int]:
    rng = random.Random(seed)
    sites = list(SITES)
    paths: list[Path] = []
    total = 0
    for site in sites:
        (folder / site / "_news").mkdir(parents=True)
    for index in range(count):
        site = sites[index % len(sites)]
        name, data = story_file(rng, index, site)
        path = folder / site / "_news" / name
        path.write_bytes(data)
        paths.append(path)
        total += len(data)
    return sorted(paths), total


def raw_parse_loop(paths: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of `frontmatter.load` over every file, in this process."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        frontmatter.load(path)
    return time.perf_counter() - started, time.process_time() - cpu


@dataclass(frozen=True)
class CliRun:
    seconds: float
    cpu: float  # user + sys of the command and its worker processes
    peak_kib: int
    report: dict[str, Any]


def run_cli(args: list[str], root: Path = PROJECT_ROOT) -> CliRun:
    """One `heatwave` run (the code under `root`) in a fresh process: wall time, CPU time, peak RSS, --json report."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        # In `root`: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH.
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], stdout=subprocess.PIPE, stderr=errors, env=env, cwd=root
        )
        out = process.stdout.read() if process.stdout is not None else b""
        # wait4 gives this child's own usage (its reaped workers included); RUSAGE_CHILDREN would mix runs.
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        err = errors.read()
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"heatwave failed ({process.returncode}): {err.decode()}")
    return CliRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, json.loads(out))


class BenchStore:
    """Where the ingests write: a SQLite file, or a database of its own on a PostgreSQL server."""

    def __init__(self, target: StoreLocation) -> None:
        self.target = target
        self.database = f"heatwave_bench_ingest_{os.getpid()}"

    @property
    def is_postgres(self) -> bool:
        return self.target.engine == "postgres"

    def url(self) -> str:
        """The --db value for the ingests: the file, or the URL with its database name replaced."""
        if not self.is_postgres:
            return str(self.target.path)
        assert self.target.url is not None
        parts = urlsplit(self.target.url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + self.database, parts.query, parts.fragment))

    def reset(self) -> None:
        """An empty store for the next cold run."""
        if not self.is_postgres:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.target.path}{suffix}").unlink(missing_ok=True)
            return
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        if self.is_postgres:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def size_bytes(self) -> int:
        if not self.is_postgres:
            assert self.target.path is not None
            return self.target.path.stat().st_size
        with self._admin() as admin:
            row = admin.execute("SELECT pg_database_size(%s)", (self.database,)).fetchone()
        return int(row[0]) if row else 0

    def _admin(self) -> Any:
        import psycopg

        assert self.target.url is not None
        return psycopg.connect(self.target.url, autocommit=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="how many story files to generate")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement N times and keep the best")
    parser.add_argument(
        "--before", type=Path, help="another checkout of Heatwave whose cold ingest runs in the same rounds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated folder and database")
    parser.add_argument("--dir", type=Path, help="where to generate (default: a new temp folder)")
    parser.add_argument(
        "--db", help="a SQLite file, or a postgresql:// URL of a server (default: a file in the temp folder)"
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="heatwave-bench-", dir=args.dir))
    news = base / "news"
    store = BenchStore(parse_location(args.db or str(base / "bench.db")))
    if store.target.path is not None and store.target.path.exists():
        shutil.rmtree(base, ignore_errors=True)
        raise SystemExit(
            f"{store.target.path} exists; the benchmark deletes its database between runs, give a new path"
        )
    target = store.url()
    print(f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f} (other work skews wall times)")
    try:
        started = time.perf_counter()
        paths, total_bytes = generate(news, args.files)
        print(
            f"generated {len(paths):,} files ({total_bytes / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s "
            f"under {news}"
        )
        generated = time.monotonic()
        # Raw loop and cold ingest run back to back in each round: on a shared machine the load drifts, and a
        # pair measured together compares like with like.
        raws: list[tuple[float, float]] = []
        colds: list[CliRun] = []
        befores: list[CliRun] = []
        for _ in range(args.repeat):
            raws.append(raw_parse_loop(paths))
            # The ingester re-reads files modified in the last RACY_WINDOW_NS before a scan (their mtime cannot
            # yet be trusted); a real news folder is older than that, so let the freshly generated files age first.
            time.sleep(max(0.0, generated + RACY_WINDOW_NS / 1e9 + 0.2 - time.monotonic()))
            if args.before is not None:
                store.reset()
                befores.append(run_cli(["ingest", str(news), "--db", target, "--json"], root=args.before.resolve()))
            # Last, so that the rescan below finds this checkout's database.
            store.reset()
            colds.append(run_cli(["ingest", str(news), "--db", target, "--json"]))
        raw, raw_cpu = min(raws)
        print(
            f"raw parse loop   (frontmatter.load, 1 process): {raw:7.2f} s  {len(paths) / raw:8,.0f} files/s  "
            f"cpu {raw_cpu:6.2f} s"
        )
        cold = min(colds, key=lambda run: run.seconds)
        print(
            f"cold ingest      (heatwave ingest, CLI)       : {cold.seconds:7.2f} s  "
            f"{len(paths) / cold.seconds:8,.0f} files/s  cpu {cold.cpu:6.2f} s  "
            f"ratio {cold.seconds / raw:.2f}x of raw "
            + ("(target <= 1.5)" if store.is_postgres else "(target <= 1.0, stretch <= 0.75)")
        )
        if befores:
            before = min(befores, key=lambda run: run.seconds)
            print(
                f"cold ingest before (--before checkout)  : {before.seconds:7.2f} s  "
                f"{len(paths) / before.seconds:8,.0f} files/s  cpu {before.cpu:6.2f} s  "
                f"ratio {before.seconds / raw:.2f}x of raw; now {cold.seconds / before.seconds:.2f}x of before, "
                f"cpu {cold.cpu / before.cpu:.2f}x"
            )
        if args.repeat > 1:
            rounds = ", ".join(f"{r:.2f} -> {c.seconds:.2f} s" for (r, _), c in zip(raws, colds, strict=True))
            print(f"                 rounds (raw loop -> cold ingest): {rounds}")
            if befores:
                rounds = ", ".join(f"{c.seconds:.2f} / {b.seconds:.2f} s" for c, b in zip(colds, befores, strict=True))
                print(f"                 rounds (cold ingest now / before): {rounds}")
        print(
            f"                 added {cold.report['added']:,}, duplicates {cold.report['duplicates']:,}, "
            f"rejected {len(cold.report['rejected'])}"
        )
        rescan = min(
            (run_cli(["ingest", str(news), "--db", target, "--json"]) for _ in range(args.repeat)),
            key=lambda run: run.seconds,
        )
        print(
            f"unchanged rescan (heatwave ingest, CLI)       : {rescan.seconds:7.2f} s  "
            f"cpu {rescan.cpu:6.2f} s  {cold.seconds / rescan.seconds:.1f}x faster than cold (target >= 20x); "
            f"unchanged {rescan.report['unchanged']:,}"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"peak memory (max RSS): cold ingest {cold.peak_kib / 1024:.0f} MiB, rescan {rescan.peak_kib / 1024:.0f} "
            f"MiB, bench process (generation + raw loop) {own / 1024:.0f} MiB"
        )
        print(
            f"database: {store.size_bytes() / 1e6:.0f} MB ({parse_location(target)}); "
            f"load average at end {os.getloadavg()[0]:.2f}"
        )
    finally:
        if args.keep:
            print(f"kept {base}" + (f" and database {store.database}" if store.is_postgres else ""))
        else:
            shutil.rmtree(base, ignore_errors=True)
            store.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
