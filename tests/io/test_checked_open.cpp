// The one checked open (io::ReadableFile, MappedFile, read_file, require_directory): a FIFO never blocks, and
// a directory, a FIFO, a dangling link or a missing path each gets a message naming the path and saying what it is.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io_test_util.hpp"
#include "sana/io/json_file.hpp"
#include "sana/io/mapped_file.hpp"

using sana_test::TempDir;

TEST_CASE("the checked open names what a non-regular path is", "[io][open]") {
  namespace io = sana::io;
  TempDir dir;
  sana_test::write_text(dir / "ok.txt", "hello");
  REQUIRE(::mkfifo((dir / "pipe").c_str(), 0600) == 0);
  std::filesystem::create_symlink(dir / "gone", dir / "dangling");
  std::filesystem::create_directory(dir / "sub");

  CHECK(io::read_file(dir / "ok.txt", "w", 100) == "hello");
  SANA_REQUIRE_ERROR(io::read_file(dir / "ok.txt", "w", 4), "[w]", "ok.txt' is 5 bytes, above the limit of 4");
  SANA_REQUIRE_ERROR(io::read_file(dir / "pipe", "w", 100), "[w]", "pipe' is a FIFO (named pipe), not a regular file");
  SANA_REQUIRE_ERROR(io::read_file(dir / "sub", "w", 100), "[w]", "sub' is a directory, not a regular file");
  SANA_REQUIRE_ERROR(io::read_file(dir / "dangling", "w", 100), "[w]", "dangling' is a dangling symbolic link");
  SANA_REQUIRE_ERROR(io::read_file(dir / "absent", "w", 100), "[w]", "absent' does not exist");
  SANA_REQUIRE_ERROR(io::ReadableFile::open("/dev/null", "w"), "[w]", "'/dev/null' is a device, not a regular file");
  // JSON configs go through it too.
  SANA_REQUIRE_ERROR(io::JsonConfig::load(dir / "pipe", "cfg.json"), "[cfg.json]", "is a FIFO");

  CHECK_NOTHROW(io::require_directory(dir / "sub", "d"));
  SANA_REQUIRE_ERROR(io::require_directory(dir / "ok.txt", "d", " (hint)"), "[d]",
                     "ok.txt' is a regular file, not a directory (hint)");
  SANA_REQUIRE_ERROR(io::require_directory(dir / "dangling", "d"), "[d]", "dangling' is a dangling symbolic link");
  SANA_REQUIRE_ERROR(io::require_directory(dir / "absent", "d"), "[d]", "absent' does not exist");
  SANA_REQUIRE_ERROR(io::require_directory(dir / "pipe", "d"), "[d]", "pipe' is not a directory");
}
