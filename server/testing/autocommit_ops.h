// server/testing/autocommit_ops.h — AutocommitOp builders for the Batch and
// Pipeline tests (the wire messages, not the client's Op).
#ifndef MVKV_SERVER_TESTING_AUTOCOMMIT_OPS_H_
#define MVKV_SERVER_TESTING_AUTOCOMMIT_OPS_H_

#include <cstdint>
#include <string>

#include "proto/kv.pb.h"

namespace mvkv::testing_support {

inline v1::AutocommitOp GetOp(uint64_t id, const std::string& key) {
  v1::AutocommitOp op;
  op.set_id(id);
  op.mutable_get()->set_key(key);
  return op;
}

inline v1::AutocommitOp PutOp(uint64_t id, const std::string& key,
                              const std::string& value) {
  v1::AutocommitOp op;
  op.set_id(id);
  op.mutable_put()->set_key(key);
  op.mutable_put()->set_value(value);
  return op;
}

inline v1::AutocommitOp DeleteOp(uint64_t id, const std::string& key) {
  v1::AutocommitOp op;
  op.set_id(id);
  op.mutable_delete_()->set_key(key);
  return op;
}

}  // namespace mvkv::testing_support

#endif  // MVKV_SERVER_TESTING_AUTOCOMMIT_OPS_H_
