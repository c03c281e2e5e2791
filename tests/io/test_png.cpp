// io::write_png / io::read_png: round trip with text chunks, and hostile files (not a PNG, truncated,
// corrupted, too large) each give an error naming the file — never a crash or a partial read.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/png.hpp"

using namespace sana;

namespace {
std::vector<std::uint8_t> gradient(std::int64_t w, std::int64_t h) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w * h * 3));
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>((i * 7) % 256);
  return rgb;
}
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
} // namespace

TEST_CASE("read_png returns what write_png wrote", "[io][png]") {
  sana_test::TempDir dir;
  const auto rgb = gradient(13, 7);
  io::write_png(dir / "a.png", rgb, 13, 7, {{"prompt", "a cat"}, {"seed", "3"}});
  const auto img = io::read_png(dir / "a.png");
  CHECK(img.width == 13);
  CHECK(img.height == 7);
  CHECK(img.rgb == rgb);
  CHECK(slurp(dir / "a.png").find("prompt") != std::string::npos);  // the tEXt chunk is there
}

TEST_CASE("read_png rejects hostile files with the file name", "[io][png]") {
  sana_test::TempDir dir;
  io::write_png(dir / "good.png", gradient(30, 20), 30, 20);
  const std::string good = slurp(dir / "good.png");
  auto fails_with = [&](const std::filesystem::path& p, const std::string& what) {
    try {
      (void)io::read_png(p, 32);
      FAIL("no error for " << p);
    } catch (const sana::error& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find(p.filename().string()) != std::string::npos);
      CHECK(m.find(what) != std::string::npos);
    }
  };
  fails_with(dir / "absent.png", "does not exist");
  spit(dir / "text.png", "hello, not a png at all");
  fails_with(dir / "text.png", "not a PNG");
  spit(dir / "empty.png", "");
  fails_with(dir / "empty.png", "not a PNG");
  spit(dir / "cut.png", good.substr(0, good.size() / 2));
  fails_with(dir / "cut.png", "cannot read the PNG");
  std::string bad_crc = good;
  bad_crc[bad_crc.find("IDAT") + 10] ^= 0x55;  // corrupt the compressed pixels
  spit(dir / "crc.png", bad_crc);
  fails_with(dir / "crc.png", "cannot read the PNG");
  io::write_png(dir / "wide.png", gradient(40, 2), 40, 2);  // 40 px > the 32 px limit given above
  fails_with(dir / "wide.png", "limit");
}
