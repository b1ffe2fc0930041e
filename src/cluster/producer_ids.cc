#include "cluster/producer_ids.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "storage/checkpoint_file.h"

namespace kaffa::cluster {

std::filesystem::path ProducerIdManager::default_path(const std::filesystem::path& log_dir) {
  return log_dir / "__kaffa_metadata" / "producer-id-block";
}

bool ProducerIdManager::load(std::string* error) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) {
    next_ = reserved_ = 0;
    return true;
  }
  std::ifstream in(file_);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // Exactly "0\n<non-negative integer>\n".
  int64_t value = -1;
  const bool shaped = text.size() > 3 && text.starts_with("0\n") && text.back() == '\n';
  if (shaped) {
    const char* begin = text.data() + 2;
    const char* end = text.data() + text.size() - 1;
    const auto r = std::from_chars(begin, end, value);
    if (r.ec != std::errc() || r.ptr != end) value = -1;
  }
  if (!in || value < 0) {
    if (error) *error = file_.string() + " is damaged; refusing to reuse producer ids";
    return false;
  }
  next_ = reserved_ = value;
  return true;
}

std::optional<int64_t> ProducerIdManager::next(std::string* error) {
  std::lock_guard lock(mu_);
  if (next_ >= reserved_) {
    const int64_t reserve = next_ + kBlockSize;
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
    if (!storage::write_file_atomically(file_, "0\n" + std::to_string(reserve) + "\n", error)) {
      return std::nullopt;
    }
    reserved_ = reserve;
  }
  return next_++;
}

}  // namespace kaffa::cluster
