"""X12 837 import speed and memory: `claims-tasks import-837` (streamed, COPY, a writer thread) on a
generated 100 MB 837P interchange, against a naive read-all baseline (the whole file in memory, every
claim parsed into a list, rows sent as INSERTs with executemany), in one run on a scratch database.

    python benchmarks/bench_x12.py [--mb 100] [--baseline-mb 25] [--json PATH] [--pyx12-python PATH]

Each import runs in a fresh process that reports its own peak RSS, on files of a quarter, half and all
of --mb: streamed, the peak must not grow with the file; read-all, it does. Target (issue 3): >= 20,000
claims/s on the 100 MB file, in bounded memory. --pyx12-python names an interpreter that has pyx12
installed (kept out of the project's dependencies): its parse rate on a 2 MB file is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import engines  # noqa: E402  (the import children load only this and db.x12_import: light)

TARGET_CLAIMS_PER_S = 20_000
_TABLES = "staging.claims, staging.claim_lines, staging.claim_diagnoses, staging.x12_interchanges"


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a
    child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _backend_cpu(pid: int) -> float:
    """CPU seconds a local PostgreSQL backend has used (utime + stime from /proc; 0 where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_streamed(dsn: str, path: Path) -> dict:
    from db.x12_import import import_file, load_lookups

    before = _peak_rss_mb()
    with engines.connection(dsn, "staging") as conn:
        lookups = load_lookups(conn)
        conn.rollback()
        backend = conn.info.backend_pid
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        result = import_file(conn, path, lookups)
        seconds = time.perf_counter() - started
        pg_cpu = _backend_cpu(backend) - pg_cpu
    assert result.status == "imported", result.message
    return {
        "claims": result.claims,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "db_cpu_seconds": pg_cpu,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_read_all(dsn: str, path: Path) -> dict:
    """The naive way: read everything, parse everything into a list, then INSERT row by row."""
    import io

    from claims_tasks.x12 import CLAIM_COLUMNS, DIAGNOSIS_COLUMNS, LINE_COLUMNS, ClaimRows, read_837
    from db.x12_import import load_lookups

    before = _peak_rss_mb()
    with engines.connection(dsn, "staging") as conn:
        lookups = load_lookups(conn)
        conn.rollback()
        backend = conn.info.backend_pid
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        data = path.read_bytes()
        claims = [c for c in read_837(io.BytesIO(data), str(path), lookups) if isinstance(c, ClaimRows)]
        with conn.cursor() as cur:
            for table, columns, rows in (
                ("claims", CLAIM_COLUMNS, [c.claim for c in claims]),
                ("claim_lines", LINE_COLUMNS, [ln for c in claims for ln in c.lines]),
                ("claim_diagnoses", DIAGNOSIS_COLUMNS, [d for c in claims for d in c.diagnoses]),
            ):
                marks = ", ".join(["%s"] * len(columns))
                cur.executemany(f"INSERT INTO staging.{table} ({', '.join(columns)}) VALUES ({marks})", rows)
        conn.commit()
        seconds = time.perf_counter() - started
        pg_cpu = _backend_cpu(backend) - pg_cpu
    return {
        "claims": len(claims),
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "db_cpu_seconds": pg_cpu,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_rss_mb(),
    }


_PYX12 = """
import sys, time, logging
logging.disable(logging.CRITICAL)
import pyx12.error_handler, pyx12.params, pyx12.x12context
started = time.perf_counter()
src = pyx12.x12context.X12ContextReader(pyx12.params.params(), pyx12.error_handler.errh_null(), sys.argv[1])
n = sum(1 for node in src.iter_segments("2300") if node.id == "2300")
print(n, time.perf_counter() - started)
"""


def run_child(kind: str, dsn: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dsn", dsn, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def truncate(dsn: str) -> None:
    with engines.connection(dsn, "staging", autocommit=True) as conn:
        conn.execute(f"TRUNCATE {_TABLES}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100.0, help="size of the largest file, MB")
    parser.add_argument("--baseline-mb", type=float, default=25.0, help="largest file for the read-all baseline")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--pyx12-python", type=Path, default=None, help="an interpreter with pyx12 installed")
    parser.add_argument("--child", choices=("streamed", "read_all"), help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = child_streamed if args.child == "streamed" else child_read_all
        print(json.dumps(fn(args.dsn, args.file)))
        return 0

    # Heavy (numpy, polars, the ICD-10 list through db.reference): the parent only, never the children.
    from benchmarks.common import scratch_staging
    from benchmarks.x12_synth import write_file

    figures: dict = {"streamed": [], "read_all": []}
    with tempfile.TemporaryDirectory(prefix="bench_x12_") as tmp, scratch_staging() as dsn:
        sizes = [args.mb / 4, args.mb / 2, args.mb]
        files = []
        for i, mb in enumerate(sizes, 1):
            path = Path(tmp) / f"837p_{mb:g}mb.x12"
            started = time.perf_counter()
            claims = write_file(path, int(mb * 1_000_000), seed=i, control=i)
            print(f"generated {path.name}: {path.stat().st_size / 1e6:.1f} MB, {claims:,} claims "
                  f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
            files.append((mb, path))
        for kind in ("streamed", "read_all"):
            for mb, path in files:
                if kind == "read_all" and mb > args.baseline_mb:
                    continue
                truncate(dsn)
                row = {"mb": round(path.stat().st_size / 1e6, 1), **run_child(kind, dsn, path)}
                row["claims_per_s"] = row["claims"] / row["seconds"]
                # With a core each (the machine's two), the importer and its backend overlap: the slower
                # of the two CPU totals bounds the wall time. The load of other processes is not in it.
                row["claims_per_s_cpu_bound"] = row["claims"] / max(row["cpu_seconds"], row["db_cpu_seconds"])
                figures[kind].append(row)
                print(
                    f"{kind:<9} {row['mb']:>6.1f} MB {row['claims']:>9,} claims {row['seconds']:>7.2f}s "
                    f"= {row['claims_per_s']:>8,.0f} claims/s  cpu importer {row['cpu_seconds']:.1f}s, "
                    f"database {row['db_cpu_seconds']:.1f}s (-> {row['claims_per_s_cpu_bound']:,.0f} claims/s "
                    f"on two idle cores)  peak RSS {row['peak_rss_mb']:.0f} MB "
                    f"(before reading: {row['rss_before_mb']:.0f} MB)"
                )
        if args.pyx12_python:
            small = Path(tmp) / "837p_2mb.x12"
            claims = write_file(small, 2_000_000, seed=9, control=9)
            out = subprocess.run(
                [str(args.pyx12_python), "-c", _PYX12, str(small)], capture_output=True, text=True, check=True
            )
            n, seconds = out.stdout.split()
            figures["pyx12_parse_only"] = {"claims": int(n), "seconds": float(seconds)}
            print(f"pyx12     parse only, 2 MB: {int(n):,} claims in {float(seconds):.1f}s "
                  f"= {int(n) / float(seconds):,.0f} claims/s")  # fmt: skip

    big = figures["streamed"][-1]
    growth = big["peak_rss_mb"] - figures["streamed"][0]["peak_rss_mb"]
    base = figures["read_all"]
    figures["summary"] = {
        "claims_per_s": big["claims_per_s"],
        "target_claims_per_s": TARGET_CLAIMS_PER_S,
        "peak_rss_growth_mb_quarter_to_full": growth,
        "speedup_vs_read_all": big["claims_per_s"] / base[-1]["claims_per_s"] if base else None,
    }
    figures["summary"]["claims_per_s_cpu_bound"] = big["claims_per_s_cpu_bound"]
    print(f"\nmachine load average at the end: {os.getloadavg()[0]:.1f} (2 cores; other processes share them)")
    print(
        f"streamed import of {big['mb']:.0f} MB: {big['claims_per_s']:,.0f} claims/s "
        f"(target {TARGET_CLAIMS_PER_S:,}: {'met' if big['claims_per_s'] >= TARGET_CLAIMS_PER_S else 'NOT met'}); "
        f"peak RSS {figures['streamed'][0]['peak_rss_mb']:.0f} -> {big['peak_rss_mb']:.0f} MB from "
        f"{figures['streamed'][0]['mb']:.0f} to {big['mb']:.0f} MB of file"
    )
    if base:
        print(
            f"read-all baseline: {base[-1]['claims_per_s']:,.0f} claims/s, peak RSS "
            + ", ".join(f"{r['peak_rss_mb']:.0f} MB at {r['mb']:.0f} MB" for r in base)
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
