/// @file
/// `AtomicFile`: the one way output files (PNGs, safetensors) are written. Bytes go to a temporary file
/// beside the target (".NAME.XXXXXX"); `commit()` fsyncs it, renames it over the target and fsyncs the
/// directory, so readers see the old file or the complete new one. A write error names the file and the
/// system's reason ("No space left on device"); destruction without commit removes the temporary.
/// Temporaries in flight are listed in a process-wide table that `remove_temporaries_on_signal()` clears from
/// a SIGINT/SIGTERM/SIGHUP handler, so an interrupted run leaves no ".NAME.XXXXXX" behind.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

namespace detail {
/// Temporaries in flight, readable from a signal handler: fixed slots, each a path and a flag.
struct TemporaryTable {
  static constexpr std::size_t slots = 16, path_bytes = 4096;
  std::array<std::atomic<bool>, slots> used{};
  std::array<std::array<char, path_bytes>, slots> path{};
};
inline TemporaryTable& temporaries() {
  static TemporaryTable t;
  return t;
}
/// A slot holding `p`, or -1 when the table is full or the path too long (the file is then not signal-safe).
inline int register_temporary(const std::string& p) {
  auto& t = temporaries();
  if (p.size() >= TemporaryTable::path_bytes) return -1;
  for (std::size_t i = 0; i < TemporaryTable::slots; ++i) {
    bool expected = false;
    if (t.used[i].load() || !t.used[i].compare_exchange_strong(expected, true)) continue;
    std::memcpy(t.path[i].data(), p.c_str(), p.size() + 1);
    return static_cast<int>(i);
  }
  return -1;
}
inline void release_temporary(int slot) {
  if (slot >= 0) temporaries().used[static_cast<std::size_t>(slot)].store(false);
}
inline void remove_temporaries_and_reraise(int sig) {
  auto& t = temporaries();
  for (std::size_t i = 0; i < TemporaryTable::slots; ++i)
    if (t.used[i].load()) ::unlink(t.path[i].data());  // unlink is async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

inline bool write_all(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ::ssize_t w = ::write(fd, p, std::min<std::size_t>(n, std::size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
} // namespace detail

/// Installs the handler that removes in-flight temporaries on SIGINT, SIGTERM and SIGHUP, then lets the signal
/// end the process as it would have (exit status 128 + signal). For programs (the CLI, servers), not libraries.
inline void remove_temporaries_on_signal() {
  struct sigaction sa {};
  sa.sa_handler = detail::remove_temporaries_and_reraise;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

/// A file written completely or not at all (see the file comment).
class AtomicFile {
public:
  explicit AtomicFile(const std::filesystem::path& target) : target_(target), where_(target.string()) {
    namespace fs = std::filesystem;
    dir_ = target.has_parent_path() ? target.parent_path() : fs::path(".");
    check(fs::is_directory(dir_), where_, "cannot write: directory '", dir_.string(), "' does not exist");
    temp_ = (dir_ / ("." + target.filename().string() + ".XXXXXX")).string();
    fd_ = ::mkostemp(temp_.data(), O_CLOEXEC);
    if (fd_ < 0) fail(where_, "cannot create a file in '", dir_.string(), "': ", std::strerror(errno));
    slot_ = detail::register_temporary(temp_);
    const mode_t mask = ::umask(0);
    ::umask(mask);
    (void)::fchmod(fd_, 0666 & ~mask);  // mkostemp creates 0600; give the output ordinary permissions
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
    detail::release_temporary(slot_);
  }

  const std::string& where() const { return where_; }

  /// Appends bytes; a failure throws "[target] writing failed: <reason>".
  void write(const void* data, std::size_t n) {
    if (!detail::write_all(fd_, static_cast<const std::byte*>(data), n)) fail_errno("writing");
  }
  /// Like write() but returns the errno instead of throwing (for C callbacks that must not throw).
  int try_write(const void* data, std::size_t n) noexcept {
    return detail::write_all(fd_, static_cast<const std::byte*>(data), n) ? 0 : errno;
  }

  /// fsync, rename over the target, fsync of the directory (best effort: the file is complete by then).
  void commit() {
    if (::fsync(fd_) != 0) fail_errno("syncing");
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail_errno("closing");
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail_errno("renaming the temporary file");
    committed_ = true;
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

  [[noreturn]] void fail_errno(const char* what, int err = 0) const {
    fail(where_, what, " failed: ", std::strerror(err ? err : errno));
  }

private:
  std::filesystem::path target_, dir_;
  std::string where_, temp_;
  int fd_ = -1, slot_ = -1;
  bool committed_ = false;
};

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
