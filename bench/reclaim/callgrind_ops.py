#!/usr/bin/python3
"""Instructions per operation of reclaim_bench's workers, under callgrind.

Instruction counts repeat exactly from run to run (with --ops_per_thread),
where timings on a shared machine swing by 2x, so they are the first guide
for hot-path work. Runs one worker thread per scheme and prints, per scheme,
the worker loop's instructions per operation and the inclusive instructions
per Contains / Insert / Remove call the worker made.

  bench/reclaim/callgrind_ops.py BINARY [--schemes=crystalline,ebr]
      [--mix=read] [--ops=1000000] [--out=/tmp/callgrind]

BINARY is an opt build of //bench:reclaim_bench (bazel-bin/bench/reclaim/).
Needs valgrind.
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

WORKER = re.compile(r'_State_impl<.*Run\(')  # the worker thread's lambda
OP = re.compile(r'::(Contains|Insert|Remove)\(')


def parse(path):
    """Self cost per function and (caller, callee) -> [calls, inclusive]."""
    names, self_ir = {}, defaultdict(int)
    edges = defaultdict(lambda: [0, 0])
    fn = cfn = None
    pending = None
    with open(path) as f:
        for line in f:
            if line.startswith(('fn=', 'cfn=')):
                key, _, rest = line.rstrip('\n').partition('=')
                m = re.match(r'\((\d+)\)(?: (.*))?', rest)
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1), m.group(1))
                if key == 'fn':
                    fn = name
                else:
                    cfn = name
            elif line.startswith('calls='):
                pending = int(line[6:].split()[0])
            elif line[:1].isdigit() or line[:1] in '+-*':
                parts = line.split()
                if len(parts) < 2:
                    continue
                if pending is not None:
                    e = edges[(fn, cfn)]
                    e[0] += pending
                    e[1] += int(parts[1])
                    pending = None
                else:
                    self_ir[fn] += int(parts[1])
    return self_ir, edges


def per_op(path):
    self_ir, edges = parse(path)
    total = sum(v for f, v in self_ir.items() if f and WORKER.search(f))
    ops, calls = 0, defaultdict(lambda: [0, 0])
    for (caller, callee), (n, ir) in edges.items():
        if not caller or not WORKER.search(caller):
            continue
        total += ir
        m = OP.search(callee or '')
        if m:
            ops += n
            calls[m.group(1)][0] += n
            calls[m.group(1)][1] += ir
    return total / max(ops, 1), {k: ir / n for k, (n, ir) in calls.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('binary')
    ap.add_argument('--schemes', default='crystalline,ebr')
    ap.add_argument('--mix', default='read')
    ap.add_argument('--structure', default='hashmap')
    ap.add_argument('--ops', type=int, default=1000000)
    ap.add_argument('--out', default='/tmp/callgrind')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for scheme in a.schemes.split(','):
        out = os.path.join(a.out, f'{scheme}.{a.structure}.{a.mix}.out')
        subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}', a.binary,
                        f'--schemes={scheme}', f'--structure={a.structure}', f'--mix={a.mix}',
                        '--threads=1', '--stall=0', f'--ops_per_thread={a.ops}', '--repeats=1',
                        '--sample_seconds=0', '--guard_iterations=0'],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        op, calls = per_op(out)
        print(f'{scheme:12s} {a.structure} {a.mix}: {op:6.1f} instructions per operation; per call: '
              + ', '.join(f'{k} {v:.1f}' for k, v in sorted(calls.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
