// Open files of a partition directory, and the handles that outlive the Log that made them.
//
// A SegmentFile owns one file descriptor (a segment's .log, .index or .timeindex, or a
// checkpoint file) and closes it in its destructor. It is always held through a
// shared_ptr: the Log keeps one, every FileSlice handed to the network layer keeps one, every
// FlushTicket keeps one. Unlinking the file (segment deletion, truncation of whole segments) or
// closing the Log therefore never invalidates a descriptor someone still uses; the kernel frees
// the inode when the last SegmentFile goes.
//
// Threading: a SegmentFile is immutable after creation (fd and path are fixed), so a const one may
// be used from any thread: pread/sendfile through fd(), sync(). Writes (write_at, truncate) are
// made only by the owner thread of the Log. FileCache is owned by one Log and is single-threaded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <string>
#include <vector>

namespace kaffa::storage {

class SegmentFile {
 public:
  enum class Mode { read_only, read_write, create };

  // Opens `path`. `create` opens read-write and creates the file if missing (mode 0644).
  // Returns nullptr and sets *error (with errno text) on failure.
  static std::shared_ptr<SegmentFile> open(const std::filesystem::path& path, Mode mode,
                                           std::string* error);
  ~SegmentFile();
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

  // pread until n bytes or end of file; returns the bytes read, or -1 on error (errno kept).
  ssize_t read_at(void* buf, size_t n, int64_t position) const;
  // pwrite all n bytes at position; false (with *error) on any error, including a short write.
  bool write_at(const void* buf, size_t n, int64_t position, std::string* error) const;
  bool truncate(int64_t size, std::string* error) const;
  // Allocates disk blocks for [offset, offset + length) without changing the size
  // (fallocate with FALLOC_FL_KEEP_SIZE); false if the file system cannot (errno kept).
  bool reserve(int64_t offset, int64_t length) const;
  // Bytes of disk blocks allocated (st_blocks), -1 on error.
  int64_t allocated() const;
  // Current size from fstat, -1 on error.
  int64_t size() const;
  // fdatasync. False on an I/O error.
  bool sync() const;

 private:
  SegmentFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}

  const int fd_;
  const std::filesystem::path path_;
};

// A byte range of a segment file, for sendfile() (or pread on TLS). Holding it keeps the
// descriptor open even if the Log is closed or the segment is deleted meanwhile.
struct FileSlice {
  std::shared_ptr<const SegmentFile> file;
  int fd = -1;
  int64_t position = 0;
  int64_t length = 0;
};

// Durability hand-off between a Log's owner thread and a flusher thread: the owner takes a ticket
// (Log::flush_ticket), any thread calls sync(), and on success the owner calls
// Log::mark_flushed(end_offset). Everything appended before the ticket was taken is durable once
// sync() returned true.
struct FlushTicket {
  std::vector<std::shared_ptr<const SegmentFile>> files;
  // Directories whose entries must be made durable, opened by sync() (a Log holds no descriptor
  // for its directory: a broker has thousands).
  std::vector<std::filesystem::path> directories;
  int64_t end_offset = 0;
  // fdatasync of each file, then fsync of each directory; false if any failed.
  bool sync() const;
};

// fsync of a directory through a descriptor opened for it (its new and removed entries become
// durable). A directory that no longer exists has nothing left to make durable: true, as an
// fsync through a descriptor held across its removal would be. False with *error otherwise.
bool sync_directory(const std::filesystem::path& dir, std::string* error);

// A bounded LRU of segment files opened on demand for reading (older segments' .log and index
// files). At most max_open descriptors are held by the cache itself; an evicted file stays open
// while a FileSlice still holds it, and is closed when the last holder lets go.
class FileCache {
 public:
  explicit FileCache(size_t max_open) : max_open_(max_open == 0 ? 1 : max_open) {}

  // The cached file, or a newly opened read-only one (then cached). nullptr + *error on failure.
  std::shared_ptr<SegmentFile> get(const std::filesystem::path& path, std::string* error);
  // Caches an already open file (for instance the segment that just stopped being active).
  void put(std::shared_ptr<SegmentFile> file);
  // Forgets the file at `path` (it is being deleted or recreated).
  void erase(const std::filesystem::path& path);
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  void trim();

  size_t max_open_;
  std::list<std::shared_ptr<SegmentFile>> entries_;  // most recently used first
};

}  // namespace kaffa::storage
