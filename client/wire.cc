#include "client/wire.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace mvkv::client::wire {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

using google::protobuf::Reflection;

// Field `f` of `m` (item `j` if repeated), read with the getter pair of its
// type.
template <class T>
T Scalar(const Message& m, const FieldDescriptor* f, int j,
         T (Reflection::*one)(const Message&, const FieldDescriptor*) const,
         T (Reflection::*many)(const Message&, const FieldDescriptor*, int)
             const) {
  const Reflection* r = m.GetReflection();
  return f->is_repeated() ? (r->*many)(m, f, j) : (r->*one)(m, f);
}

// Appends the fields of `m` under `prefix` (see FromProto(StatsResponse)).
void Flatten(const Message& m, const std::string& prefix, Stats* out) {
  const auto* descriptor = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    const std::string name = absl::StrCat(prefix, f->name());
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int j = 0; j < n; ++j) {
      const std::string item =
          f->is_repeated() ? absl::StrCat(name, ".", j) : name;
      auto add = [&](std::variant<uint64_t, std::string> value) {
        out->entries.push_back({item, std::move(value)});
      };
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE:
          Flatten(f->is_repeated() ? r->GetRepeatedMessage(m, f, j)
                                   : r->GetMessage(m, f),
                  item + ".", out);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          add(Scalar(m, f, j, &Reflection::GetUInt64,
                     &Reflection::GetRepeatedUInt64));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          add(uint64_t{Scalar(m, f, j, &Reflection::GetUInt32,
                              &Reflection::GetRepeatedUInt32)});
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          add(uint64_t{Scalar(m, f, j, &Reflection::GetBool,
                              &Reflection::GetRepeatedBool)});
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          add(Scalar(m, f, j, &Reflection::GetString,
                     &Reflection::GetRepeatedString));
          break;
        default: {  // enums, signed integers, floating point: as text
          std::string text;
          google::protobuf::TextFormat::PrintFieldValueToString(
              m, f, f->is_repeated() ? j : -1, &text);
          add(std::move(text));
        }
      }
    }
  }
}

v1::Compare ToProto(const Compare& c) {
  v1::Compare out;
  out.set_key(c.key);
  out.set_target(static_cast<v1::Compare::Target>(c.target));
  out.set_result(static_cast<v1::Compare::Result>(c.result));
  out.set_value(c.value);
  out.set_version(c.version);
  out.set_exists(c.exists);
  return out;
}

v1::Op ToProto(const Op& op) {
  v1::Op out;
  switch (op.kind) {
    case Op::Kind::kGet:
      out.mutable_get()->set_key(op.key);
      break;
    case Op::Kind::kPut:
      out.mutable_put()->set_key(op.key);
      out.mutable_put()->set_value(op.value);
      break;
    case Op::Kind::kDelete:
      out.mutable_delete_()->set_key(op.key);
      break;
    case Op::Kind::kScan:
      out.mutable_scan()->set_start(op.key);
      out.mutable_scan()->set_end(op.end);
      out.mutable_scan()->set_limit(op.limit);
      break;
  }
  return out;
}

// The client's enums mirror the wire's value for value.
static_assert(static_cast<int>(Compare::Target::kExists) == v1::Compare::EXISTS);
static_assert(static_cast<int>(Compare::Result::kGreater) ==
              v1::Compare::GREATER);

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

v1::Isolation ToProto(Isolation isolation) {
  switch (isolation) {
    case Isolation::kSerializable:
      return v1::SERIALIZABLE;
    case Isolation::kReadCommitted:
      return v1::READ_COMMITTED;
    case Isolation::kSnapshot:
      break;
  }
  return v1::SNAPSHOT;
}

KeyValue FromProto(v1::KeyValue kv) {
  return KeyValue{std::move(*kv.mutable_key()), std::move(*kv.mutable_value()),
                  kv.commit_ts()};
}

void AppendScan(v1::ScanResponse& chunk, ScanResult* out) {
  for (v1::KeyValue& kv : *chunk.mutable_kvs()) {
    out->kvs.push_back(FromProto(std::move(kv)));
  }
  out->snapshot_ts = chunk.snapshot_ts();
  out->more = chunk.more();
  out->resume_key = std::move(*chunk.mutable_resume_key());
}

v1::CompareAndCommitRequest ToProto(const std::vector<Compare>& compares,
                                    const std::vector<Op>& success,
                                    const std::vector<Op>& failure) {
  v1::CompareAndCommitRequest request;
  for (const Compare& c : compares) *request.add_compares() = ToProto(c);
  for (const Op& op : success) *request.add_success() = ToProto(op);
  for (const Op& op : failure) *request.add_failure() = ToProto(op);
  return request;
}

CompareAndCommitResult FromProto(v1::CompareAndCommitResponse& response,
                                 const std::vector<Op>& ops) {
  CompareAndCommitResult out;
  out.succeeded = response.succeeded();
  out.commit_ts = response.commit_ts();
  for (int i = 0; i < response.results_size(); ++i) {
    v1::OpResult& r = *response.mutable_results(i);
    OpResult& result = out.results.emplace_back();
    result.kind = i < static_cast<int>(ops.size()) ? ops[i].kind : Op::Kind::kGet;
    if (r.has_get()) {
      result.found = true;
      result.kv = FromProto(std::move(*r.mutable_get()->mutable_kv()));
    }
    if (r.has_delete_()) result.existed = r.delete_().existed();
    if (r.has_scan()) AppendScan(*r.mutable_scan(), &result.scan);
  }
  return out;
}

Stats FromProto(const v1::StatsResponse& response) {
  Stats out;
  Flatten(response, "", &out);
  return out;
}

}  // namespace mvkv::client::wire
