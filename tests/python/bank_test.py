"""Bank transfers through the Python client from several threads and several
processes at once, one of the processes SIGKILLed mid-run.

Property: every transfer is one transaction (a Session txn under transact, a
handle, or a CompareAndCommit guarded by the balances' versions) that reads
two balances and writes both; none loses an update, so the sum of all
balances is ACCOUNTS * INITIAL at every snapshot: checked by a concurrent
auditor (a snapshot txn, a snapshot handle or a streamed scan, each reading
every account at one snapshot) and at the end. A client killed mid-transfer
changes nothing of that and leaves nothing open once its handle's lease
has run out. The seed is logged; MVKV_SEED=<seed> replays its choices (the
interleaving is the scheduler's).
"""

import os
import random
import signal
import sys
import threading
import traceback
import unittest

import bank_worker
import harness

THREADS = 3
PROCESSES = 2
TRANSFERS = 40  # per thread and per process


class BankTest(unittest.TestCase):

    def spawn_worker(self, address, seed, transfers):
        out_path = os.path.join(harness.temp_dir("worker"), "out")
        with open(out_path, "wb") as out:
            process = harness.spawn(
                [sys.executable, harness.runfile("tests/python/bank_worker.py"),
                 address, str(seed), str(transfers)], out, env=harness.child_env())
        self.addCleanup(process.kill)
        return process, out_path

    def test_transfers_from_threads_and_processes_preserve_the_total(self):
        seed = int(os.environ.get("MVKV_SEED") or
                   random.SystemRandom().randrange(2**32))
        print(f"seed={seed}", flush=True)
        with harness.ServerProcess("--txn_lease=3s") as server:
            setup = server.client()
            bank_worker.open_accounts(setup)
            workers = [self.spawn_worker(server.address, seed + 100 + i,
                                         TRANSFERS) for i in range(PROCESSES)]
            victim, victim_out = self.spawn_worker(server.address, seed + 200, 0)

            results, failures, audits, crashes = [], [], [], []
            stop = threading.Event()
            self.addCleanup(stop.set)  # the auditor ends even if we fail

            def transfers(n):
                rng = random.Random(seed + n)
                with server.client() as client:
                    for _ in range(TRANSFERS):
                        results.append(bank_worker.transfer(client, rng))

            def auditor():
                rng = random.Random(seed - 1)
                with server.client() as client:
                    while not stop.is_set():
                        ts, balances = bank_worker.audit(client, rng)
                        if (len(balances) != bank_worker.ACCOUNTS or
                                sum(balances) != bank_worker.TOTAL):
                            failures.append((ts, balances))
                        audits.append(ts)

            def recorded(fn, *args):
                try:
                    fn(*args)
                except BaseException:  # a thread's error fails the test
                    crashes.append(traceback.format_exc())

            threads = [threading.Thread(target=recorded, args=(transfers, n),
                                        daemon=True) for n in range(THREADS)]
            audit_thread = threading.Thread(target=recorded, args=(auditor,),
                                            daemon=True)
            for t in threads + [audit_thread]:
                t.start()

            def victim_transfers():
                with open(victim_out) as f:
                    return f.read().count("transfer ")
            harness.wait_for(lambda: victim_transfers() >= 5,
                             "the victim's first transfers", timeout=120)
            victim.send_signal(signal.SIGKILL)
            self.assertEqual(victim.wait(30), -signal.SIGKILL)

            for t in threads:
                t.join(240)
                self.assertFalse(t.is_alive(), "a transfer thread hung")
            outcomes = []
            for process, out_path in workers:
                self.assertEqual(process.wait(240), 0, out_path)
                with open(out_path) as f:
                    outcomes.append(f.read().split()[-4:])
            stop.set()
            audit_thread.join(60)
            self.assertFalse(audit_thread.is_alive(), "the auditor hung")

            self.assertEqual(crashes, [])
            self.assertEqual(failures[:3], [],
                             f"{len(failures)} audits saw a wrong total")
            final = [int(kv.value) for kv in setup.scan("acct/", "acct0")]
            self.assertEqual(sum(final), bank_worker.TOTAL, final)
            done = results.count(True) + sum(int(o[1]) for o in outcomes)
            gave_up = results.count(False) + sum(int(o[3]) for o in outcomes)
            stats = harness.wait_no_open_txns(setup)
            print(f"transfers={done} gave_up={gave_up} audits={len(audits)} "
                  f"victim_transfers={victim_transfers()} "
                  f"commits={stats['commits']} "
                  f"aborts={stats['aborts_write_conflict']}+"
                  f"{stats['aborts_read_conflict']}", flush=True)
            self.assertGreater(len(audits), 0)
            self.assertGreater(done, (THREADS + PROCESSES) * TRANSFERS // 2)
            setup.close()
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
