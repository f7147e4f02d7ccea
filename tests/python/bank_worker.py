"""The bank of bank_test: accounts, transfers by each of the client's three
kinds of transaction, and audits. Imported by the test (threads), and run as
a process:

  bank_worker.py ADDRESS SEED TRANSFERS   (TRANSFERS 0 = until killed, at
                                           most 5 minutes)

prints "transfer N" after each transfer and, at the end, "done D gave_up G".
"""

import random
import sys
import time

import mvkv

ACCOUNTS = 10
INITIAL = 1000
TOTAL = ACCOUNTS * INITIAL
POLICY = mvkv.RetryPolicy(max_attempts=50, initial_backoff=0.001,
                          max_backoff=0.05)


def account(i):
    return f"acct/{i:02d}"


def open_accounts(client):
    for i in range(ACCOUNTS):
        client.put(account(i), str(INITIAL))


def _session(client, isolation, a, b, amount):
    def move(txn):
        va, vb = int(txn.get(a).value), int(txn.get(b).value)
        txn.put(a, str(va - amount))
        txn.put(b, str(vb + amount))
    client.transact(move, isolation=isolation, retries=POLICY)


def _handle(client, isolation, a, b, amount):
    def attempt():
        with client.begin_handle(isolation) as h:
            va, vb = int(h.get(a).value), int(h.get(b).value)
            h.put(a, str(va - amount))
            h.put(b, str(vb + amount))
    mvkv.retry.retry(POLICY, attempt)


def _compare_and_commit(client, isolation, a, b, amount):
    del isolation  # CompareAndCommit is always serializable
    def attempt():
        ka, kb = client.get(a), client.get(b)
        r = client.compare_and_commit(
            [mvkv.Compare(a, version=ka.commit_ts),
             mvkv.Compare(b, version=kb.commit_ts)],
            [mvkv.Op.put(a, str(int(ka.value) - amount)),
             mvkv.Op.put(b, str(int(kb.value) + amount))])
        if not r.succeeded:
            raise mvkv.Aborted(f"{a} or {b} moved since it was read")
    mvkv.retry.retry(POLICY, attempt)


KINDS = (_session, _handle, _compare_and_commit)
ISOLATIONS = (mvkv.Isolation.SNAPSHOT, mvkv.Isolation.SERIALIZABLE)


def transfer(client, rng):
    """One random transfer by a random kind of txn; False if it gave up
    (Aborted after every attempt)."""
    a = rng.randrange(ACCOUNTS)
    b = (a + 1 + rng.randrange(ACCOUNTS - 1)) % ACCOUNTS
    kind, isolation = rng.choice(KINDS), rng.choice(ISOLATIONS)
    try:
        kind(client, isolation, account(a), account(b), rng.randrange(50))
        return True
    except mvkv.Aborted:
        return False


def audit(client, rng):
    """The balances read at one snapshot, by a random one of: a snapshot
    Session txn, a snapshot handle, a streamed scan. Returns (snapshot_ts,
    [balance])."""
    way = rng.randrange(3)
    if way == 0:
        with client.transaction(isolation=mvkv.Isolation.SNAPSHOT) as txn:
            scan = txn.scan("acct/", "acct0")
            assert not scan.more, scan
            return scan.snapshot_ts, [int(kv.value) for kv in scan]
    if way == 1:
        with client.begin_handle(mvkv.Isolation.SNAPSHOT) as h:
            scan = h.scan("acct/", "acct0")
            assert not scan.more, scan
            return scan.snapshot_ts, [int(kv.value) for kv in scan]
    chunks = list(client.scan_chunks("acct/", "acct0"))
    return chunks[0].snapshot_ts, [int(kv.value) for c in chunks for kv in c]


def main(address, seed, transfers):
    rng = random.Random(seed)
    done = gave_up = 0
    deadline = time.monotonic() + 300
    with mvkv.Client(address) as client:
        while (transfers == 0 or done + gave_up < transfers) and \
                time.monotonic() < deadline:
            if transfer(client, rng):
                done += 1
            else:
                gave_up += 1
            print("transfer", done + gave_up, flush=True)
    print("done", done, "gave_up", gave_up, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
