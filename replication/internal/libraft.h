// libraft's headers, which declare C functions without extern "C".
#ifndef MVKV_REPLICATION_INTERNAL_LIBRAFT_H_
#define MVKV_REPLICATION_INTERNAL_LIBRAFT_H_

#include <uv.h>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}

#endif  // MVKV_REPLICATION_INTERNAL_LIBRAFT_H_
