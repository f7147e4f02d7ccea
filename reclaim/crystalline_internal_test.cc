// Deterministic tests of Crystalline-W's internal protocols, driving the core
// directly: one OS thread plays several slots (a slot's owner is whoever
// claimed it), so rare interleavings can be laid out step by step.
#include <atomic>
#include <cstdint>

#include "gtest/gtest.h"
#include "reclaim/crystalline.h"
#include "reclaim/testing/test_util.h"

namespace mvkv::reclaim::crystalline_internal {
namespace {

using reclaim::testing::FreeTracked;
using reclaim::testing::g_tracked_freed;
using reclaim::testing::kAlive;
using reclaim::testing::Tracked;

CoreOptions SlowOnly() {
  // fast_attempts 0: every Protect takes the slow path; eras move rarely.
  return CoreOptions{/*max_threads=*/4, /*retire_freq=*/1000, /*era_freq=*/1000,
                     /*fast_attempts=*/0};
}

std::uintptr_t ProtectAt(Core& core, ThreadSlot& s, const std::atomic<Tracked*>& src, int index,
                         const Node* parent) {
  return core.ProtectMoved(s, index, &src, &PointerSource<Tracked>::kOps, parent);
}

// Property: when a requester completes a slow-path read whose parent is
// already retired while a helper is still registered on that parent, the
// requester hands the helper a reference (HandOffParent): the parent stays
// allocated after the requester lets go, until the helper drops it.
TEST(CrystallineInternalTest, ParentHandOffKeepsParentForAnInFlightHelper) {
  Core core(SlowOnly());
  const int requester_slot = core.ClaimSlot();
  const int helper_slot = core.ClaimSlot();
  ThreadSlot& requester = core.Slot(requester_slot);
  ThreadSlot& helper = core.Slot(helper_slot);
  const std::uint64_t freed_before = g_tracked_freed.load();

  auto* parent = new Tracked(1);
  auto* child = new Tracked(2);
  auto* filler = new Tracked(3);
  core.InitNode(requester, parent);
  core.InitNode(requester, child);
  core.InitNode(requester, filler);
  parent->next.store(child);
  std::atomic<Tracked*> root{parent};

  // The requester (in a guard) protects the parent at index 0.
  requester.depth = 1;
  ASSERT_EQ(ProtectAt(core, requester, root, 0, nullptr), reinterpret_cast<std::uintptr_t>(parent));

  // Another thread unlinks and retires the parent (with a filler so the
  // batch has a node for the requester's reservation), and offers it.
  root.store(nullptr);
  core.Retire(helper, filler, &FreeTracked, sizeof(Tracked));
  core.Retire(helper, parent, &FreeTracked, sizeof(Tracked));
  core.OfferAll(helper);
  EXPECT_EQ(g_tracked_freed.load(), freed_before);  // held by the requester

  // A helper is registered on the parent (as in HelpOne, mid-read).
  helper.help_parent.store(parent);

  // The requester reads parent->next through the slow path, naming the parent.
  ASSERT_EQ(ProtectAt(core, requester, parent->next, 1, parent),
            reinterpret_cast<std::uintptr_t>(child));
  EXPECT_EQ(helper.help_parent.load(), nullptr) << "the requester took the registration";

  // The requester's guard ends: its reservations drop their references.
  requester.depth = 0;
  core.Leave(requester);
  EXPECT_EQ(parent->canary.load(), kAlive) << "the helper's reference keeps the parent";
  EXPECT_EQ(g_tracked_freed.load(), freed_before);

  // The helper finishes (as HelpOne's end): it was handed a reference; drop it.
  ASSERT_NE(helper.help_parent.exchange(nullptr), parent);
  core.Unref(helper, RefsOf(parent));
  EXPECT_EQ(g_tracked_freed.load(), freed_before + 2);  // parent and filler

  delete child;
  core.ReleaseSlot(helper_slot);
  core.ReleaseSlot(requester_slot);
}

// Property: a helper that registered on a parent the requester has not
// retired gets nothing handed over (the parent is still reachable, and a
// later retirement will see the helper's kParentIndex reservation instead).
TEST(CrystallineInternalTest, NoHandOffForALiveParent) {
  Core core(SlowOnly());
  const int requester_slot = core.ClaimSlot();
  const int helper_slot = core.ClaimSlot();
  ThreadSlot& requester = core.Slot(requester_slot);
  ThreadSlot& helper = core.Slot(helper_slot);
  auto* parent = new Tracked(1);
  auto* child = new Tracked(2);
  core.InitNode(requester, parent);
  core.InitNode(requester, child);
  parent->next.store(child);
  std::atomic<Tracked*> root{parent};
  requester.depth = 1;
  ProtectAt(core, requester, root, 0, nullptr);
  helper.help_parent.store(parent);
  ProtectAt(core, requester, parent->next, 1, parent);
  EXPECT_EQ(helper.help_parent.load(), parent);
  helper.help_parent.store(nullptr);
  requester.depth = 0;
  core.Leave(requester);
  delete child;
  delete parent;
  core.ReleaseSlot(helper_slot);
  core.ReleaseSlot(requester_slot);
}

// Property: a result installed by a helper counts as the requester's era for
// retirers until adopted (Eligible), and a helper that finds the value
// already retired leaves a counted reference in `handoff`.
TEST(CrystallineInternalTest, SlowPathResultCountsForRetirersUntilAdopted) {
  Core core(SlowOnly());
  const int requester_slot = core.ClaimSlot();
  ThreadSlot& requester = core.Slot(requester_slot);
  Reservation& r = requester.res[2];
  // An open request whose result a helper installed with era 7.
  r.round.store(5);
  reclaim_internal::U128 cur = reclaim_internal::Load128(r.result);
  ASSERT_TRUE(reclaim_internal::Cas128(r.result, cur, reclaim_internal::Pack(0x1000, 7)));
  // era 0 (the requester never published one): still visible to retirers.
  EXPECT_EQ(r.era.load(), 0u);
  auto* a = new Tracked(1);
  auto* b = new Tracked(2);
  core.InitNode(requester, a);
  core.InitNode(requester, b);
  const int retirer_slot = core.ClaimSlot();
  ThreadSlot& retirer = core.Slot(retirer_slot);
  const std::uint64_t freed_before = g_tracked_freed.load();
  core.Retire(retirer, a, &FreeTracked, sizeof(Tracked));
  core.Retire(retirer, b, &FreeTracked, sizeof(Tracked));
  core.OfferAll(retirer);
  EXPECT_EQ(g_tracked_freed.load(), freed_before) << "the open result holds the batch";
  EXPECT_NE(r.list.load(), 0u);
  r.round.store(0);
  core.DetachAndDrop(requester, r);
  EXPECT_EQ(g_tracked_freed.load(), freed_before + 2);
  core.ReleaseSlot(retirer_slot);
  core.ReleaseSlot(requester_slot);
}

}  // namespace
}  // namespace mvkv::reclaim::crystalline_internal
