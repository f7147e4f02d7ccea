// Free TCP ports on 127.0.0.1 for the tests and benchmarks that start
// servers (mvkv_server, etcd) on loopback.
#ifndef MVKV_COMMON_PORTS_H_
#define MVKV_COMMON_PORTS_H_

namespace mvkv::common {

// A port on 127.0.0.1 that was free a moment ago (0 if none could be had),
// chosen at random below the kernel's ephemeral range, so that no outgoing
// connection takes it before the server binds it. Never one of the last
// 256 it returned in this process, so the ports of one cluster differ.
// Thread-safe.
int FreePort();

}  // namespace mvkv::common

#endif  // MVKV_COMMON_PORTS_H_
