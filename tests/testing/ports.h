// Free TCP ports on 127.0.0.1 for tests that start servers.
#ifndef MVKV_TESTS_TESTING_PORTS_H_
#define MVKV_TESTS_TESTING_PORTS_H_

namespace mvkv::testing_support {

// A port on 127.0.0.1 that was free a moment ago (0 if none could be had),
// chosen at random below the kernel's ephemeral range, so that no outgoing
// connection takes it before the server under test binds it.
int FreePort();

}  // namespace mvkv::testing_support

#endif  // MVKV_TESTS_TESTING_PORTS_H_
