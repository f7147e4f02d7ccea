// TempDir: a fresh directory under $TEST_TMPDIR (or /tmp) for one test,
// removed with everything in it when the object is destroyed.
//
// Thread safety: not thread-safe; one owner.
#ifndef MVKV_STORAGE_TESTING_TEMP_DIR_H_
#define MVKV_STORAGE_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mvkv::storage_testing {

class TempDir final {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern =
        std::string(base != nullptr ? base : "/tmp") + "/mvkv_storage_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside this directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace mvkv::storage_testing

#endif  // MVKV_STORAGE_TESTING_TEMP_DIR_H_
