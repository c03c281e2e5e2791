/// @file
/// `MappedFile`: a read-only POSIX memory mapping of a whole file, released on destruction.
/// The mapping is private and read-only, so nothing we do can write to the file; a file that
/// another process truncates while mapped can still raise SIGBUS, which no reader can prevent.
#pragma once

#include <cerrno>
#include <cstddef>
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
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block us; S_ISREG rejects it
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail(where, "cannot open '", path.string(), "': ", std::strerror(errno));
    struct fd_closer {
      int fd;
      ~fd_closer() { ::close(fd); }
    } closer{fd};  // the mapping stays valid after the descriptor is closed

    struct stat st {};
    if (::fstat(fd, &st) != 0) fail(where, "cannot stat '", path.string(), "': ", std::strerror(errno));
    check(S_ISREG(st.st_mode), where, "'", path.string(), "' is not a regular file");
    MappedFile m;
    if (st.st_size == 0) return m;
    const auto size = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
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

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
