/// @file
/// Helpers for the io tests: a self-removing temp directory, hand-assembled safetensors bytes,
/// and an assertion that a call throws `sana::error` whose message contains given parts.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "sana/core/error.hpp"

namespace sana_test {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sana-io-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

inline std::vector<std::byte> as_bytes(std::string_view s) {
  std::vector<std::byte> b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}

/// 8-byte little-endian length (the header's real length unless overridden), header, then
/// `data_bytes` bytes of data (0, 1, 2, ... mod 256).
inline std::vector<std::byte> craft(std::string_view header, std::size_t data_bytes, std::int64_t length_override = -1) {
  const std::uint64_t n = length_override >= 0 ? static_cast<std::uint64_t>(length_override) : header.size();
  std::vector<std::byte> out(8);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xffu);
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::byte>(i & 0xffu));
  return out;
}

inline void write_file(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}
inline void write_text(const std::filesystem::path& p, std::string_view text) { write_file(p, as_bytes(text)); }

/// The message of the `sana::error` thrown by f, or a marker when it returns normally.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const sana::error& e) {
    return e.what();
  }
  return "<no sana::error was thrown>";
}

inline void check_contains(const std::string& msg, std::initializer_list<std::string_view> parts) {
  INFO("message: " << msg);
  CHECK(msg.rfind("<no sana::error", 0) != 0);
  for (std::string_view p : parts) {
    INFO("expected part: " << p);
    CHECK(msg.find(p) != std::string::npos);
  }
}

} // namespace sana_test

/// Asserts that `expr` throws sana::error whose message contains every listed string.
#define SANA_REQUIRE_ERROR(expr, ...) \
  ::sana_test::check_contains(::sana_test::error_message([&] { (void)(expr); }), {__VA_ARGS__})
