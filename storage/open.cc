#include "storage/open.h"

#include <utility>

namespace mvkv::storage {

OpenedDatabase& OpenedDatabase::operator=(OpenedDatabase&& other) noexcept {
  if (this != &other) {
    db.reset();  // before the durability layer it writes into
    durability = std::move(other.durability);
    db = std::move(other.db);
  }
  return *this;
}

OpenedDatabase::~OpenedDatabase() { db.reset(); }

absl::StatusOr<OpenedDatabase> OpenPersistentDatabase(
    const StorageOptions& storage_options, mvkv::Options options) {
  if (options.durability != nullptr) {
    return absl::InvalidArgumentError(
        "OpenPersistentDatabase: Options.durability must be unset");
  }
  OpenedDatabase opened;
  absl::StatusOr<std::unique_ptr<RocksDbDurability>> durability =
      RocksDbDurability::Open(storage_options);
  if (!durability.ok()) return durability.status();
  opened.durability = std::move(*durability);
  options.durability = opened.durability.get();
  absl::StatusOr<std::unique_ptr<mvkv::Database>> db =
      mvkv::Database::Open(options);
  if (!db.ok()) return db.status();
  opened.db = std::move(*db);
  return opened;
}

}  // namespace mvkv::storage
