"""Test helper of killed_client_test: connects to the server at argv[1],
opens a transaction handle and, inside a `with client.transaction()` block,
a Session txn, writes a key in each (so each holds a snapshot and a buffered
write), prints "ready <session txn_id> <handle txn_id>" and waits to be
killed mid-transaction. Exits 3 if the wait ever ends (after 10 minutes)."""

import sys
import time

import mvkv


def main():
    client = mvkv.Client(sys.argv[1])
    handle = client.begin_handle(mvkv.Isolation.SERIALIZABLE)
    handle.put("held/handle", "v")
    with client.transaction(isolation=mvkv.Isolation.SERIALIZABLE) as txn:
        txn.put("held/session", "v")
        print("ready", txn.id, handle.id, flush=True)
        time.sleep(600)
    return 3


if __name__ == "__main__":
    sys.exit(main())
