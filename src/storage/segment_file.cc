#include "storage/segment_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"

namespace kaffa::storage {

namespace {
void set_error(std::string* error, const std::string& what, const std::filesystem::path& path) {
  if (error != nullptr) *error = what + " " + path.string() + ": " + std::strerror(errno);
}
}  // namespace

std::shared_ptr<SegmentFile> SegmentFile::open(const std::filesystem::path& path, Mode mode,
                                               std::string* error) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case Mode::read_only:
      flags |= O_RDONLY;
      break;
    case Mode::read_write:
      flags |= O_RDWR;
      break;
    case Mode::create:
      flags |= O_RDWR | O_CREAT;
      break;
  }
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    set_error(error, "open", path);
    return nullptr;
  }
  return std::shared_ptr<SegmentFile>(new SegmentFile(fd, path));
}

SegmentFile::~SegmentFile() {
  ::close(fd_);
}

ssize_t SegmentFile::read_at(void* buf, size_t n, int64_t position) const {
  return file::read_at(fd_, buf, n, position);
}

bool SegmentFile::write_at(const void* buf, size_t n, int64_t position, std::string* error) const {
  size_t done = 0;
  const auto* in = static_cast<const uint8_t*>(buf);
  while (done < n) {
    const ssize_t r = ::pwrite(fd_, in + done, n - done, static_cast<off_t>(position) + done);
    if (r < 0) {
      if (errno == EINTR) continue;
      set_error(error, "write", path_);
      return false;
    }
    if (r == 0) {
      errno = EIO;
      set_error(error, "write", path_);
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

bool SegmentFile::truncate(int64_t size, std::string* error) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    set_error(error, "truncate", path_);
    return false;
  }
  return true;
}

bool SegmentFile::reserve(int64_t offset, int64_t length) const {
  return ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                     static_cast<off_t>(length)) == 0;
}

int64_t SegmentFile::allocated() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return -1;
  return static_cast<int64_t>(st.st_blocks) * 512;
}

int64_t SegmentFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

bool SegmentFile::sync() const {
  int r;
  do {
    r = ::fdatasync(fd_);
  } while (r != 0 && errno == EINTR);
  return r == 0;
}

bool FlushTicket::sync() const {
  bool ok = true;
  for (const auto& f : files) ok = f->sync() && ok;
  for (const auto& d : directories) ok = sync_directory(d, nullptr) && ok;
  return ok;
}

bool sync_directory(const std::filesystem::path& dir, std::string* error) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    set_error(error, "open", dir);
    return false;
  }
  int r;
  do {
    r = ::fsync(fd);
  } while (r != 0 && errno == EINTR);
  if (r != 0) set_error(error, "fsync", dir);
  ::close(fd);
  return r == 0;
}

std::shared_ptr<SegmentFile> FileCache::get(const std::filesystem::path& path, std::string* error) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->path() == path) {
      entries_.splice(entries_.begin(), entries_, it);
      return entries_.front();
    }
  }
  auto file = SegmentFile::open(path, SegmentFile::Mode::read_only, error);
  if (file) {
    entries_.push_front(file);
    trim();
  }
  return file;
}

void FileCache::put(std::shared_ptr<SegmentFile> file) {
  erase(file->path());
  entries_.push_front(std::move(file));
  trim();
}

void FileCache::erase(const std::filesystem::path& path) {
  entries_.remove_if([&](const auto& f) { return f->path() == path; });
}

void FileCache::trim() {
  while (entries_.size() > max_open_) entries_.pop_back();
}

}  // namespace kaffa::storage
