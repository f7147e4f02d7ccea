#!/usr/bin/env python3
"""Renders reclaim_bench JSON (sweep, and optionally a stall timeline) as the
Markdown tables and target ratios of bench/RESULTS.md.

  python3 bench/reclaim/results_table.py SWEEP.json [STALL.json]
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt(x, nd=2):
    return "n/a" if x is None or x < 0 else f"{x:.{nd}f}"


def main():
    rows = load(sys.argv[1])
    stall = load(sys.argv[2]) if len(sys.argv) > 2 else []
    guard = [r for r in rows if r["structure"] == "guard"]
    runs = [r for r in rows if r["structure"] != "guard"]
    schemes = []
    for r in runs:
        if r["scheme"] not in schemes:
            schemes.append(r["scheme"])
    key = lambda r: (r["structure"], r["mix"], r["stalled"], r["threads"])
    by = {}
    for r in runs:
        by.setdefault(key(r), {})[r["scheme"]] = r

    print("Throughput, Mops/s (best of the interleaved repeats; median in brackets), "
          "and average unreclaimed objects per thread from the sampling run:\n")
    print("| structure | mix | stall | threads | " + " | ".join(schemes) + " |")
    print("|---|---|---|---|" + "---|" * len(schemes))
    for k in sorted(by):
        cells = []
        for s in schemes:
            r = by[k].get(s)
            if not r:
                cells.append("")
                continue
            cells.append(f"{fmt(r['mops'])} ({fmt(r.get('mops_median', -1))}) / "
                         f"{fmt(r['unreclaimed_avg_per_thread'], 0)}")
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | " + " | ".join(cells) + " |")

    def mops(structure, mix, threads, scheme, stalled=0, median=False):
        r = by.get((structure, mix, stalled, threads), {}).get(scheme)
        if not r:
            return None
        return r.get("mops_median") if median else r["mops"]

    def ratio(a, b):
        return None if not a or not b else a / b

    print("\nTargets (ratios of best runs; median-based ratio in brackets):\n")
    print("| target | measured |")
    print("|---|---|")
    for peer, goal in (("ebr", 0.95), ("urcu", 0.95)):
        r = ratio(mops("hashmap", "read", 2, "crystalline"), mops("hashmap", "read", 2, peer))
        m = ratio(mops("hashmap", "read", 2, "crystalline", median=True),
                  mops("hashmap", "read", 2, peer, median=True))
        print(f"| hashmap read, 2 threads: crystalline >= {goal} x {peer} | {fmt(r)} ({fmt(m)}) |")
    r = ratio(mops("hashmap", "write", 2, "crystalline"), mops("hashmap", "write", 2, "ebr"))
    m = ratio(mops("hashmap", "write", 2, "crystalline", median=True),
              mops("hashmap", "write", 2, "ebr", median=True))
    print(f"| hashmap write, 2 threads: crystalline >= 0.9 x ebr | {fmt(r)} ({fmt(m)}) |")
    for peer in ("xenium_hp", "cds_hp"):
        for mix in ("read", "write"):
            vals = []
            for t in (1, 2, 4, 8):
                vals.append(fmt(ratio(mops("list", mix, t, "crystalline"), mops("list", mix, t, peer))))
            print(f"| list {mix}: crystalline >= 2 x {peer} (threads 1/2/4/8) | {' / '.join(vals)} |")
    g = {(r["scheme"], r["mix"]): r["ns_per_op"] for r in guard}
    for mix in ("enter_leave", "enter_protect_leave"):
        c, e, u = g.get(("crystalline", mix)), g.get(("ebr", mix)), g.get(("urcu", mix))
        print(f"| guard {mix}: crystalline <= 1.2 x ebr (ns: crystalline / ebr / urcu) | "
              f"{fmt(ratio(c, e))} ({fmt(c, 1)} / {fmt(e, 1)} / {fmt(u, 1)} ns) |")

    if stall:
        print("\nStall timeline (one extra thread parked in a guard; unreclaimed objects at that "
              "moment, total and per thread; avg = per thread, averaged over every 5 ms sample "
              "so far):\n")
        print("| stall at | structure | mix | threads | scheme | at 2 s | at 10 s |")
        print("|---|---|---|---|---|---|---|")
        tl = {}
        for path in sys.argv[2:]:
            for r in load(path):
                k = (r.get("stall_at", "start"), r["structure"], r["mix"], r["threads"], r["scheme"])
                tl.setdefault(k, {})[r["at_seconds"]] = r
        for k in tl:
            cells = []
            for t in sorted(tl[k]):
                r = tl[k][t]
                cell = f"{r['unreclaimed']} ({r['unreclaimed_per_thread']:.0f}/thread"
                if "avg_per_thread_so_far" in r:
                    cell += f", avg {r['avg_per_thread_so_far']:.0f}"
                cells.append(cell + ")")
            print("| " + " | ".join(str(x) for x in k) + " | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
