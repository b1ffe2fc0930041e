#include "cluster/producer_ids.h"

#include <charconv>

#include "base/file.h"
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
  const std::string text = file::read_all(file_).value_or("");
  // Exactly "0\n<non-negative integer>\n".
  int64_t value = -1;
  const bool shaped = text.size() > 3 && text.starts_with("0\n") && text.back() == '\n';
  if (shaped) {
    const char* begin = text.data() + 2;
    const char* end = text.data() + text.size() - 1;
    const auto r = std::from_chars(begin, end, value);
    if (r.ec != std::errc() || r.ptr != end) value = -1;
  }
  if (value < 0) {  // also an unreadable file (empty text)
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

void ProducerIdManager::set_block_source(BlockSource source) {
  std::lock_guard lock(mu_);
  source_ = std::move(source);
  next_ = reserved_ = 0;
}

void ProducerIdManager::next_async(IdDone done) {
  std::unique_lock lock(mu_);
  if (!source_) {
    lock.unlock();
    std::string error;
    auto id = next(&error);
    return done(id, error);
  }
  if (next_ < reserved_) {
    const int64_t id = next_++;
    lock.unlock();
    return done(id, {});
  }
  waiting_.push_back(std::move(done));
  if (requesting_) return;
  requesting_ = true;
  BlockSource source = source_;
  lock.unlock();
  source(kBlockSize, [this](std::optional<int64_t> first, std::string error) {
    on_block(first, std::move(error));
  });
}

void ProducerIdManager::on_block(std::optional<int64_t> first, std::string error) {
  std::vector<std::pair<IdDone, std::optional<int64_t>>> answers;
  {
    std::lock_guard lock(mu_);
    requesting_ = false;
    if (first) {
      next_ = *first;
      reserved_ = *first + kBlockSize;
    }
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) {
      if (first && next_ < reserved_) {
        answers.emplace_back(std::move(w), next_++);
      } else if (first) {
        waiting_.push_back(std::move(w));  // more waiters than the block holds: next block
      } else {
        answers.emplace_back(std::move(w), std::nullopt);
      }
    }
  }
  for (auto& [done, id] : answers) done(id, id ? std::string() : error);
  std::unique_lock lock(mu_);
  if (waiting_.empty() || requesting_) return;
  auto rest = std::move(waiting_);
  waiting_.clear();
  lock.unlock();
  for (auto& w : rest) next_async(std::move(w));
}

}  // namespace kaffa::cluster
