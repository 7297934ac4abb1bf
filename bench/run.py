"""``make bench``: run every benchmark, print one table, write ``bench/results.json``.

``python -m bench.run [--quick] [name ...]`` runs the named benchmarks only
(delivery, workers, startup, cron_cost, web, load, queries, scale, api_bulk); ``--quick`` uses small sizes for a
smoke run; ``--markdown`` prints the last results as the README's table. Figures are measured side by side in the same run; none is a test.
"""
from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench import common

BENCHES = ["delivery", "workers", "startup", "cron_cost", "web", "load", "queries", "scale", "api_bulk"]
RESULTS = Path(__file__).with_name("results.json")


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{int(value):,}"


def table(figures: list[common.Figure]) -> str:
    rows = [("benchmark", "figure", "value", "against", "ratio", "target", "met")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        against = f"{_number(f.baseline_value)} {f.unit} ({f.baseline})" if f.baseline else ""
        rows.append((f.bench, f.name, f"{_number(f.value)} {f.unit}", against,
                     _number(f.ratio), f.target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The results as the README shows them: figures with a target, and the curve of crontab costs."""
    lines = ["| benchmark | figure | value | against | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for f in map(lambda d: common.Figure(**d), result["figures"]):
        if not f.target and not f.name.startswith(("cron sync", "save one")):
            continue
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        against = f"{_number(f.baseline_value)} {f.unit}" if f.baseline else ""
        lines.append(f"| {f.bench} | {f.name} | {_number(f.value)} {f.unit} | {against} | "
                     f"{_number(f.ratio)} | {f.target} | {met} |")
    m = result["machine"]
    lines.append(f"\n{result['when'][:10]}, {m['cores']} cores ({m['cpu']}), Python {m['python']}.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if "--markdown" in argv:
        print(markdown(json.loads(RESULTS.read_text())))
        return 0
    quick = "--quick" in argv
    chosen = [name for name in argv if not name.startswith("--")] or BENCHES
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")
        return 2
    ctx = common.Context(tmp=Path(tempfile.mkdtemp(prefix="mailer-bench-")), quick=quick)
    figures, failed = [], []
    for name in chosen:
        started = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            figures.extend(module.run(ctx))
        except Exception:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            traceback.print_exc()
        print(f"[bench] {name}: {time.perf_counter() - started:.0f} s", flush=True)
    print()
    print(table(figures))
    notes = [f for f in figures if f.note]
    if notes:
        print()
        for f in notes:
            print(f"- {f.bench} / {f.name}: {f.note}")
    result = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": quick,
              "machine": common.machine(), "figures": [f.as_dict() for f in figures],
              "failed": failed}
    if not quick and not failed and chosen == BENCHES:
        RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwritten to {RESULTS.relative_to(common.ROOT)}")
    missed = [f for f in figures if f.met is False]
    print(f"\n{len(figures)} figures, {len(missed)} target(s) missed"
          + (f", benchmarks that failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
