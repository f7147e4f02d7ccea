// reclaim/structures/michael_hash_map.h — Michael's lock-free hash set
// (SPAA 2002): a fixed array of Harris–Michael lists, one per bucket,
// generic over the reclamation scheme.
//
// Thread safety and progress: as HarrisMichaelList (lock-free). The bucket
// count is fixed at construction (no resizing).
#ifndef MVKV_RECLAIM_STRUCTURES_MICHAEL_HASH_MAP_H_
#define MVKV_RECLAIM_STRUCTURES_MICHAEL_HASH_MAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "reclaim/domain.h"
#include "reclaim/structures/harris_michael_list.h"

namespace mvkv::reclaim {

template <Domain D>
class MichaelHashMap {
 public:
  using Key = std::uint64_t;

  // REQUIRES: buckets > 0.
  explicit MichaelHashMap(std::size_t buckets, D& domain = D::Default()) : buckets_(buckets) {
    lists_.reserve(buckets);
    for (std::size_t i = 0; i < buckets; ++i) {
      lists_.push_back(std::make_unique<HarrisMichaelList<D>>(domain));
    }
  }

  bool Insert(Key key) { return Bucket(key).Insert(key); }
  bool Remove(Key key) { return Bucket(key).Remove(key); }
  bool Contains(Key key) { return Bucket(key).Contains(key); }

  // REQUIRES: no concurrent operations (tests only).
  std::vector<Key> Snapshot() const {
    std::vector<Key> keys;
    for (const auto& l : lists_) {
      for (Key k : l->Snapshot()) keys.push_back(k);
    }
    return keys;
  }

 private:
  HarrisMichaelList<D>& Bucket(Key key) {
    // Fibonacci hashing spreads sequential keys over the buckets.
    return *lists_[(key * 0x9E3779B97F4A7C15ull >> 17) % buckets_];
  }

  const std::size_t buckets_;
  std::vector<std::unique_ptr<HarrisMichaelList<D>>> lists_;
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_STRUCTURES_MICHAEL_HASH_MAP_H_
