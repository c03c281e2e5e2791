// io::AtomicFile: complete or absent, errors with the system's reason, and no temporary left behind when
// the process is stopped by SIGINT/SIGTERM in the middle of a write.
#include <catch2/catch.hpp>

#include <cerrno>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/atomic_file.hpp"

using namespace sana;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}
} // namespace

TEST_CASE("AtomicFile: committed files appear whole, abandoned ones not at all", "[io][atomic]") {
  sana_test::TempDir d;
  {
    io::AtomicFile f(d / "a.bin");
    f.write("hello", 5);
    CHECK_FALSE(fs::exists(d / "a.bin"));
    CHECK(entries(d.path).size() == 1);  // the temporary
    f.commit();
  }
  CHECK(fs::file_size(d / "a.bin") == 5);
  {
    io::AtomicFile f(d / "b.bin");
    f.write("partial", 7);
  }  // no commit: gone
  CHECK(entries(d.path) == std::vector<std::string>{"a.bin"});
  SANA_REQUIRE_ERROR(io::AtomicFile(d / "missing" / "c.bin"), "cannot write: directory", "does not exist");
}

TEST_CASE("AtomicFile: a failed write names the file and the system's reason", "[io][atomic]") {
  sana_test::TempDir d;
  io::AtomicFile f(d / "x.png");
  // What a full disk reports (write(2) → ENOSPC); the PNG writer passes libpng's failed write through this.
  SANA_REQUIRE_ERROR(f.fail_errno("writing the PNG", ENOSPC), "x.png]", "writing the PNG failed: No space left on device");
}

TEST_CASE("AtomicFile: SIGINT and SIGTERM during a write remove the temporary", "[io][atomic][signal]") {
  for (int sig : {SIGINT, SIGTERM}) {
    sana_test::TempDir d;
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      io::remove_temporaries_on_signal();
      io::AtomicFile f(d / "image.png");
      f.write("half an image", 13);
      ::raise(sig);
      _exit(0);  // not reached: the handler re-raises with the default action
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    CHECK(entries(d.path).empty());
  }
}
