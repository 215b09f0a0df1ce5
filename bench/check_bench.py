"""Benchmark of ``alignops check`` on a generated config repository.

Measures, in one run, medians of several repetitions:

- the Rego part of ``check`` (alignops' PolicySet.evaluate over every resource) against
  the bare regorus engine doing the same evaluations (same modules, data, inputs,
  rules) — the bar is ≤ 1.5×;
- the full ``alignops check`` of 1,000 resources as a user runs it (a new process, the
  state database included) — the bar is < 2 s;
- the incremental check after a one-file change (``--base HEAD~1``), and how much Rego
  work it does compared with the full check.

Usage: python bench/check_bench.py [--resources 1000] [--policies 20] [--repeat 5]
Writes bench/out/check.json and the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import regorus

from alignops.gate import check
from alignops.policy import PolicySet
from alignops.policy.bundle import policy_data
from alignops.source import ConfigRepository

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate
from report import write_section

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bare_engine(snapshot, policy_set: PolicySet):  # type: ignore[no-untyped-def]
    engine = regorus.Engine()
    for module in snapshot.policies:
        engine.set_rego_v0(policy_set.versions[module.path] == "v0")
        engine.add_policy(module.path, module.text)
    engine.add_data_json(json.dumps(policy_data(snapshot, None)))
    paths = [f"data.{r.package}.{r.name}" for r in policy_set.rules]
    inputs = [r.manifest for r in snapshot.resources.values()]

    def run() -> int:
        said = 0
        for manifest in inputs:
            engine.set_input_json(json.dumps(manifest))
            for path in paths:
                said += len(json.loads(engine.eval_rule_as_json(path)))
        return said

    return run


def cli_time(repo: Path, args: list[str], repeat: int, env: dict[str, str]) -> float:
    exe = str(Path(sys.executable).with_name("alignops"))

    def run() -> None:
        subprocess.run([exe, *args], cwd=repo, env=env, capture_output=True, check=False)

    run()  # warm the page cache
    return median_time(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "repo"
        generate(path, resources=args.resources, policies=args.policies)
        git = ConfigRepository(path)
        snapshot = git.snapshot("HEAD")
        policy_set = PolicySet.load(snapshot)
        inputs = [r.manifest for r in snapshot.resources.values()]
        evaluations = len(inputs) * len(policy_set.rules)

        ours = median_time(lambda: [policy_set.evaluate(m) for m in inputs], args.repeat)
        bare = median_time(bare_engine(snapshot, policy_set), args.repeat)
        in_process = median_time(lambda: check(git.snapshot("HEAD")), args.repeat)

        env = {**os.environ, "ALIGNOPS_DATABASE_URL": f"sqlite:///{Path(tmp) / 'state.db'}"}
        full_cli = cli_time(path, ["check", "HEAD", "-o", "json"], args.repeat, env)

        changed = path / "generated" / "fn-3.yaml"
        changed.write_text(changed.read_text().replace("memory:", "memory: 2048\n  # was:"))
        git.commit_all("one file changed")
        head, base = git.snapshot("HEAD"), git.snapshot("HEAD~1")
        incremental = check(head, base=base)
        incr_cli = cli_time(
            path, ["check", "HEAD", "--base", "HEAD~1", "-o", "json"], args.repeat, env
        )
        incr_eval = median_time(
            lambda: [
                policy_set.evaluate(head.resources[r].manifest)
                for r in incremental.resources_checked
            ],
            args.repeat,
        )
        startup = cli_time(path, ["version"], args.repeat, env)

    results = {
        "resources": len(inputs),
        "policies": args.policies,
        "rules": len(policy_set.rules),
        "evaluations": evaluations,
        "repeat": args.repeat,
        "rego_ours_s": ours,
        "rego_bare_s": bare,
        "rego_ratio": ours / bare,
        "rego_ours_us_per_eval": ours / evaluations * 1e6,
        "rego_bare_us_per_eval": bare / evaluations * 1e6,
        "check_in_process_s": in_process,
        "check_cli_s": full_cli,
        "cli_startup_s": startup,
        "incremental_resources": len(incremental.resources_checked),
        "incremental_cli_s": incr_cli,
        "incremental_rego_s": incr_eval,
        "incremental_rego_share": incr_eval / ours,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "check.json").write_text(json.dumps(results, indent=2) + "\n")
    r = results
    table = "\n".join(
        [
            f"Generated repository: {r['resources']:,} resources, {r['policies']} policies "
            f"({r['rules']} gate rules, half Rego v0, half v1); medians of {r['repeat']} runs.",
            "",
            "| measure | alignops | baseline | ratio / bar |",
            "|---|---|---|---|",
            f"| Rego evaluation, {r['evaluations']:,} rule evaluations | {r['rego_ours_s']:.3f} s "
            f"({r['rego_ours_us_per_eval']:.1f} µs each) | bare regorus {r['rego_bare_s']:.3f} s "
            f"({r['rego_bare_us_per_eval']:.1f} µs each) | **{r['rego_ratio']:.2f}×** (bar ≤ 1.5×) |",
            f"| `alignops check HEAD` (new process, audit included) | {r['check_cli_s']:.2f} s | "
            f"— | bar < 2 s |",
            f"| `check()` in process, repeated (snapshot with memoized parses + policies + evaluation) | "
            f"{r['check_in_process_s']:.2f} s | — | |",
            f"| process start-up (`alignops version`) | {r['cli_startup_s']:.2f} s | — | |",
            f"| `alignops check HEAD --base HEAD~1`, one file changed | {r['incremental_cli_s']:.2f} s | "
            f"full: {r['check_cli_s']:.2f} s | {r['incremental_resources']} of {r['resources']:,} "
            "resources evaluated |",
            f"| Rego work of that incremental check | {r['incremental_rego_s'] * 1000:.2f} ms | "
            f"full: {r['rego_ours_s'] * 1000:.0f} ms | {r['incremental_rego_share']:.4f} of the full |",
        ]
    )
    write_section(ROOT / "docs" / "performance.md", "check", table)
    print(table)


if __name__ == "__main__":
    main()
