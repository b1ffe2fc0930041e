// ProducerIdManager: hands out producer ids (InitProducerId) that this node never hands out twice,
// not even after a crash. Ids are reserved durably in blocks of kBlockSize, as Kafka's controller
// does: before the first id of a block is given out, the start of the next block is written
// (atomically, with fsync) to `<log.dirs>/__kaffa_metadata/producer-id-block` (in a cluster the
// blocks come from the metadata store instead, through a BlockSource):
//
//   0                     version
//   <next block start>    the first id not yet reserved
//
// A restart therefore continues at the next block (at most kBlockSize - 1 ids are skipped). A
// damaged file is an error at start-up, never a restart from 0.
//
// Threading: any thread; a mutex guards the counter (the file write, once per block, happens
// under it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kaffa::cluster {

class ProducerIdManager {
 public:
  static constexpr int64_t kBlockSize = 1000;

  explicit ProducerIdManager(std::filesystem::path file) : file_(std::move(file)) {}
  static std::filesystem::path default_path(const std::filesystem::path& log_dir);

  // Reads the file (missing: start at 0). False with *error when it is damaged or unreadable.
  bool load(std::string* error);
  // The next id; nullopt with *error when the next block cannot be reserved (disk error).
  std::optional<int64_t> next(std::string* error);

  // Cluster: reserves a block of `count` ids elsewhere; done(first id) or done(nullopt, error),
  // on any thread.
  using BlockDone = std::function<void(std::optional<int64_t> first, std::string error)>;
  using BlockSource = std::function<void(int64_t count, BlockDone done)>;
  void set_block_source(BlockSource source);
  // Any thread: the next id, at once or once a block is reserved (done may then run on another
  // thread). Without a block source, the same as next().
  using IdDone = std::function<void(std::optional<int64_t> id, std::string error)>;
  void next_async(IdDone done);

 private:
  void on_block(std::optional<int64_t> first, std::string error);

  const std::filesystem::path file_;
  std::mutex mu_;
  int64_t next_ = 0;      // next id to hand out
  int64_t reserved_ = 0;  // ids below this are reserved on disk
  BlockSource source_;
  bool requesting_ = false;
  std::vector<IdDone> waiting_;  // for the block being requested
};

}  // namespace kaffa::cluster
