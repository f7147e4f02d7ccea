// KvHandler's Watch: a WatchCreateRequest to Database::Watch. The stream
// itself (many watches, flow control) is server/watch_reactor.cc.
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/kv_handler.h"

namespace mvkv::server {

absl::StatusOr<std::unique_ptr<mvkv::Watch>> KvHandler::OpenWatch(
    const v1::WatchCreateRequest& request, uint64_t watch_id) {
  WatchRange range;
  switch (request.target_case()) {
    case v1::WatchCreateRequest::kKey:
      range = WatchRange::Key(request.key());
      break;
    case v1::WatchCreateRequest::kRange:
      range = WatchRange::Interval(request.range().start(),
                                   request.range().end());
      break;
    case v1::WatchCreateRequest::kPrefix:
      range = WatchRange::Prefix(request.prefix());
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "watch ", watch_id, ": no target (set key, range or prefix)"));
  }
  WatchOptions options;
  options.values = !request.keys_only();
  options.id = watch_id;
  if (request.progress_interval_ms() != 0) {
    options.progress_interval =
        absl::Milliseconds(request.progress_interval_ms());
  }
  return db_->Watch(range, request.start_ts(), options);
}

}  // namespace mvkv::server
