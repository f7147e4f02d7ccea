// reclaim/reclaim.h — safe memory reclamation for lock-free structures:
// Crystalline-W (the default: wait-free, bounded backlog) and EBR (the
// baseline), behind one interface. This header is the design document.
//
// WHAT IT IS
//   A lock-free structure unlinks an object while other threads may still be
//   reading it. Instead of `delete`, the remover calls `domain.Retire(obj)`;
//   readers wrap each operation in a `Guard` and load shared pointers with
//   `guard.Protect(src, index)`. The domain frees a retired object only when
//   no guard can still reach it. Objects derive from `Node` (node.h, 32 bytes
//   of scheme header) and are created with `domain.New<T>(...)` (or
//   `new` + `InitNode`). Structures are written once against the `Domain`
//   concept (domain.h); reclaim/structures/ holds a Treiber stack, a
//   Harris–Michael list and a Michael hash map.
//
//     CrystallineDomain& d = CrystallineDomain::Default();
//     { CrystallineDomain::Guard g(d);
//       Obj* o = g.Protect(shared, 0);      // safe to read *o until g ends
//       ... }                               // (or until index 0 is reused)
//     Obj* old = shared.exchange(d.New<Obj>(...));
//     d.Retire(old);                        // freed when no guard can see it
//
// CRYSTALLINE-W (crystalline.h), after Nikolaev & Ravindran, "Crystalline:
// Fast and Memory Efficient Wait-Free Reclamation" (DISC 2021, arXiv
// 2108.02763) and the PLDI 2024 journal version. Our own implementation.
//   - Every object is stamped with the global era at allocation (birth era).
//   - Each thread slot has kMaxIndexes reservation indexes plus a base
//     reservation. A reservation is active while its era is nonzero. The
//     first Protect of a guard activates the base with the current era (one
//     seq_cst store, as EBR's announcement; the guard's end is a release
//     store of 0). While the era does not move, every Protect is the load,
//     one load of the global era and one compare with the base era, which
//     the guard keeps a copy of (a register, once the guard's user is
//     inlined); the base covers all of them until the guard ends.
//     Once the era moves, Protect publishes the new era at its own index and
//     retries until the era did not move across the pointer load.
//   - Retired objects gather in a per-thread batch (one reference node keeps
//     the batch's minimum birth era and a reference count). Every
//     Options::retire_freq retirements the batch is offered: one batch node
//     is pushed onto the list of every active reservation whose era is >= the
//     batch's minimum birth era, and the count is set to the number pushed.
//     A reader drops its references when it changes the era of an index or
//     when its guard ends; the last reference frees the whole batch.
//   - If the era keeps moving, Protect stops after Options::fast_attempts
//     tries and publishes a request; threads that advance the era (every
//     era_freq x threads allocations) first complete every open request:
//     they read the source under their own reservation and install
//     (pointer, era) with one 16-byte compare-and-swap. Because the era
//     advances only after helping, it moves fewer than `threads` times while
//     a request is open, which bounds every loop.
//   Deviations from the paper's code: (1) helpers never write the
//   requester's era or list. An installed result counts as the index's era
//   for retirers until the requester adopts it, and a helper that finds the
//   value already retired leaves the requester a counted reference. This
//   confines double-width atomics to one word per index (see below).
//   (2) Activity is the era word (0 = outside a guard), not a sentinel in the
//   list head, so entering and leaving a guard need no read-modify-write on
//   the list. A retirer that pushes onto a list whose guard just ended takes
//   its node back if it is still on top; a node it cannot take back waits
//   for the owner's next guard, Barrier or exit. (3) The base reservation.
//
// PROGRESS (each operation; T = Options::max_threads, I = kMaxIndexes + 2)
//   Crystalline-W (all wait-free):
//     Guard()/~Guard()  O(1) / O(indexes used + references dropped); once
//                       the guard protected something, one seq_cst store at
//                       the first Protect and one release store at the end
//                       (EBR: the same two stores).
//                       The first guard of a thread in a domain registers it:
//                       one pass over T slots (aborts if all are taken).
//     Protect           <= fast_attempts tries, then a slow path of at most
//                       2T + 16 iterations (helpers finish it); dropping
//                       references may run deleters.
//     InitNode/New      O(1); every era_freq x threads calls also helps up
//                       to T x kMaxIndexes open requests (each bounded).
//     Retire            O(1); every retire_freq calls into one of the two
//                       filling batches, one offer, O(T x I).
//     Flush/Barrier     one offer; Barrier adds one pass over exited slots.
//     thread exit       offers the partial batch and releases the slot; a
//                       batch that cannot go yet stays with the slot and is
//                       adopted by the next owner or by Barrier.
//   EBR: every call is wait-free in its own steps, but reclamation is
//   blocking: one thread that stays in a guard stops it for everyone.
//
// MEMORY BOUND
//   Crystalline-W: a reservation of era e receives only batches whose minimum
//   birth era is <= e. A thread stalled inside a guard at era e therefore
//   pins (a) objects born by era e and retired after it stalled — at most the
//   objects alive when it stalled — and (b) nothing born later: Retire keeps
//   objects born by the oldest reserved era in batches of their own, so an
//   old object does not hold back the younger objects retired around it.
//   With T threads the backlog is at most (objects alive at the stall that
//   are retired afterwards) + O(T x (batch + I)); it does not grow with the
//   number of operations or with time. It is O(T x batch) when the objects
//   alive at the stall are not retired afterwards (stall_test asserts that
//   case at two op counts, and the old-object case against its own bound).
//   When a long-lived set is churned after the stall (an engine's records
//   updated for the first time, the 50k prefilled keys of the hash-map
//   stall rows in bench/RESULTS.md) the backlog rises to that set's size,
//   then stays flat, while EBR's grows linearly. A thread preempted inside
//   a guard briefly acts as a stalled one. Any era-based scheme (hazard
//   eras, IBR) shares (a): eras cannot tell which old object a stalled
//   reader holds; hazard pointers can.
//   EBR: unbounded under a stalled guard (the same test records the growth).
//
// DOUBLE-WIDTH ATOMICS
//   Only the slow-path result word of each reservation is 16 bytes, and it is
//   read and written only with `lock cmpxchg16b` (g++ inlines
//   __sync_val_compare_and_swap on unsigned __int128 under -mcx16, set for
//   every build in .bazelrc; a load is a CAS of 0 by 0). No 64-bit atomic
//   ever touches those bytes; no plain 16-byte load is used.
//
// WHEN NOT TO USE IT
//   - Single-threaded code, or structures under a lock: plain delete.
//   - Read-mostly data with rare, large updates: RCU-style grace periods
//     (liburcu) are simpler and you may tolerate their unbounded backlog.
//   - Pointers into the middle of objects, or objects not derived from Node
//     (first base): Protect cannot find their header.
//   - More than kMaxIndexes simultaneously protected pointers per guard, or
//     more than Options::max_threads threads at once.
//   - A guard is a short critical section: do not block inside it. With
//     Crystalline-W blocking is safe for memory (bounded) but the blocked
//     thread's reservations still pin what it protected.
//   EBR is cheaper per guard when no thread ever stalls; keep it for
//   comparisons and for code that can prove its guards are short.
//
// RULES FOR CALLERS (REQUIRES)
//   - Protect(src, i, parent): if `src` lives inside a reclaimable object,
//     pass that object (protected at another index) as `parent`.
//   - Reusing an index ends the reservation previously made at it.
//   - Nested guards share their thread's indexes (see Guard).
//   - A Guard is used and destroyed on the thread that created it.
//   - Retire each object once, after it is unreachable for new readers.
#ifndef MVKV_RECLAIM_RECLAIM_H_
#define MVKV_RECLAIM_RECLAIM_H_

#include "reclaim/crystalline.h"
#include "reclaim/domain.h"
#include "reclaim/ebr.h"
#include "reclaim/node.h"

#endif  // MVKV_RECLAIM_RECLAIM_H_
