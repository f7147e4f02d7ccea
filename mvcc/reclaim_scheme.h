// mvcc/reclaim_scheme.h — the reclamation scheme the engine retires versions,
// records and index tables through, chosen at build time.
//
// Crystalline-W by default: a thread stalled inside a read pins at most what
// was alive when it stalled (reclaim/reclaim.h, MEMORY BOUND). Building with
// `--config=engine_ebr` (which defines MVKV_ENGINE_RECLAIM_EBR everywhere)
// puts the engine on epoch-based reclamation instead, so benchmarks can
// compare the two inside the engine; it is not meant for production, where
// one stalled reader stops all reclamation.
//
// Thread safety: as the chosen domain (reclaim/).
#ifndef MVKV_MVCC_RECLAIM_SCHEME_H_
#define MVKV_MVCC_RECLAIM_SCHEME_H_

#include <string_view>

#include "reclaim/reclaim.h"

namespace mvkv {

#ifdef MVKV_ENGINE_RECLAIM_EBR
using EngineReclaimDomain = reclaim::EbrDomain;
inline constexpr std::string_view kEngineReclaimScheme = "ebr";
#else
using EngineReclaimDomain = reclaim::CrystallineDomain;
inline constexpr std::string_view kEngineReclaimScheme = "crystalline";
#endif

}  // namespace mvkv

#endif  // MVKV_MVCC_RECLAIM_SCHEME_H_
