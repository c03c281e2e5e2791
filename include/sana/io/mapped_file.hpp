/// @file
/// The one checked open every file the library and the CLI read goes through: `ReadableFile::open`
/// (a regular file, opened without blocking, so a FIFO is refused instead of hanging; a directory, a FIFO,
/// a device, a dangling link get a message saying what the path is), `MappedFile` (a read-only POSIX
/// memory mapping of a whole file, released on destruction) and `read_file` (the bytes as a string).
/// The mapping is private and read-only, so nothing we do can write to the file; a file that
/// another process truncates while mapped can still raise SIGBUS, which no reader can prevent.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

namespace detail {
/// What a path that is not a regular file is, for "[where] 'path' <what>".
inline const char* not_regular_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a regular file";
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device, not a regular file";
  return "is not a regular file";
}
} // namespace detail

/// An open read-only descriptor of a regular file, closed on destruction. Move-only.
class ReadableFile {
public:
  ReadableFile() = default;
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;
  ReadableFile(ReadableFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(std::exchange(o.size_, 0)) {}
  ReadableFile& operator=(ReadableFile&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~ReadableFile() { reset(); }

  /// Opens `path` for reading; errors are "[where] 'path' does not exist / is a directory, not a regular
  /// file / is a FIFO (named pipe), not a regular file / is a dangling symbolic link / cannot be opened: ...".
  static ReadableFile open(const std::filesystem::path& path, std::string_view where) {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);  // a FIFO must not block us
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      const int err = errno;
      struct stat lst {};
      if (err == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
        fail(where, "'", path.string(), "' is a dangling symbolic link");
      if (err == ENOENT) fail(where, "'", path.string(), "' does not exist");
      fail(where, "cannot open '", path.string(), "': ", std::strerror(err));
    }
    ReadableFile f;
    f.fd_ = fd;
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail(where, "cannot stat '", path.string(), "': ", std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(where, "'", path.string(), "' ", detail::not_regular_kind(st.st_mode));
    f.size_ = static_cast<std::uint64_t>(st.st_size);
    return f;
  }

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  /// Gives up ownership of the descriptor (e.g. to fdopen it).
  int release() { return std::exchange(fd_, -1); }

private:
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

/// Drops the pages of `bytes` (a range of a read-only file mapping) from the process's resident set: a weight
/// copied out of the mapping need not stay resident twice, so loading peaks at one copy of the weights. The pages
/// stay in the page cache; touching them again reads them back. Only whole pages inside the range are dropped.
inline void drop_mapped_pages(std::span<const std::byte> bytes) noexcept {
  static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(bytes.data()) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(bytes.data()) + bytes.size()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

/// Owns a read-only mapping of a regular file. Move-only. An empty file maps to an empty span.
class MappedFile {
public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { release(); }

  /// Maps `path`; errors are reported as "[where] ...".
  static MappedFile open(const std::filesystem::path& path, std::string_view where) {
    const ReadableFile file = ReadableFile::open(path, where);  // the mapping stays valid after it is closed
    MappedFile m;
    if (file.size() == 0) return m;
    const auto size = static_cast<std::size_t>(file.size());
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd(), 0);
    if (p == MAP_FAILED) fail(where, "cannot map '", path.string(), "' (", size, " bytes): ", std::strerror(errno));
    m.data_ = static_cast<const std::byte*>(p);
    m.size_ = size;
    return m;
  }

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

private:
  void release() noexcept {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Throws "[where] 'path' does not exist / is a dangling symbolic link / is a regular file, not a directory
/// ..." (then `hint`) unless `path` is a directory.
inline void require_directory(const std::filesystem::path& path, std::string_view where, std::string_view hint = {}) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
  const int err = errno;
  struct stat lst {};
  std::string what;
  if (::stat(path.c_str(), &st) == 0) what = S_ISREG(st.st_mode) ? "is a regular file, not a directory" : "is not a directory";
  else if (err == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) what = "is a dangling symbolic link";
  else if (err == ENOENT) what = "does not exist";
  else what = std::string("cannot be read: ") + std::strerror(err);
  fail(where, "'", path.string(), "' ", what, hint);
}

/// The bytes of the regular file `path` (through `ReadableFile::open`); above `max_bytes` is an error.
inline std::string read_file(const std::filesystem::path& path, std::string_view where, std::uint64_t max_bytes) {
  const MappedFile m = MappedFile::open(path, where);
  check(m.size() <= max_bytes, where, "'", path.string(), "' is ", m.size(), " bytes, above the limit of ", max_bytes);
  return std::string(reinterpret_cast<const char*>(m.data()), m.size());
}

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
