/// @file
/// `SafetensorsWriter`: writes host tensors (f32, f16, bf16, i32, i64, u8) and string metadata as
/// a safetensors file, atomically: the bytes go to a temporary file in the target directory,
/// which is fsynced and renamed over the target, so readers see the old file or the complete new
/// one, never a partial file; on any error the temporary file is removed.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/core/utf8.hpp"
#include "sana/io/atomic_file.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

namespace detail {
/// Appends `s` as a JSON string literal.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
}

} // namespace detail

/// Collects tensors (not copied: their memory must stay valid until `write`) and metadata.
class SafetensorsWriter {
public:
  /// Adds a contiguous host tensor under `name`.
  template <class T, std::size_t Rank>
    requires Element<std::remove_const_t<T>>
  void add(std::string name, const TensorView<T, Rank, host_space>& view) {
    check(view.is_contiguous(), "safetensors writer", "tensor ", detail::name_arg{name}, " must be contiguous");
    std::vector<std::int64_t> shape(view.shape().begin(), view.shape().end());
    add_raw(std::move(name), to_stored_dtype(dtype_of_v<std::remove_const_t<T>>), std::move(shape),
            std::as_bytes(std::span(view.data(), static_cast<std::size_t>(view.numel()))));
  }

  /// Adds raw little-endian bytes of any stored dtype; `bytes` must match shape x dtype.
  void add_raw(std::string name, StoredDType dtype, std::vector<std::int64_t> shape, std::span<const std::byte> bytes) {
    constexpr std::string_view where = "safetensors writer";
    check(sana::valid_utf8(name), where, "tensor name ", detail::name_arg{name}, " is not valid UTF-8");
    check(name != "__metadata__", where, "'__metadata__' cannot be a tensor name");
    check(name.find('\0') == std::string::npos, where, "tensor name ", detail::name_arg{name}, " contains a NUL");
    const std::optional<std::int64_t> count = detail::dims_numel(shape);
    check(count.has_value(), where, "tensor ", detail::name_arg{name}, ": invalid shape ", detail::dims_arg{shape});
    const auto numel = static_cast<std::uint64_t>(*count);
    const std::uint64_t bits = stored_dtype_bits(dtype);
    check(numel <= UINT64_MAX / bits && numel * bits % 8 == 0 && numel * bits / 8 == bytes.size(), where, "tensor ",
          detail::name_arg{name}, ": ", bytes.size(), " bytes do not match shape ", detail::dims_arg{shape}, " x ",
          stored_dtype_name(dtype));
    check(names_.insert(name).second, where, "duplicate tensor name ", detail::name_arg{name});
    tensors_.push_back({std::move(name), dtype, std::move(shape), bytes});
  }

  void set_metadata(std::string key, std::string value) {
    check(sana::valid_utf8(key) && sana::valid_utf8(value), "safetensors writer", "metadata ",
          detail::name_arg{key}, " is not valid UTF-8");
    for (auto& kv : metadata_)
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  /// The whole file in memory (tests, fuzz seeds, small files).
  std::vector<std::byte> to_bytes() const {
    const std::string header = build_header();
    std::vector<std::byte> out(8 + header.size());
    const std::uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, header.data(), header.size());
    for (const Pending* t : data_order()) out.insert(out.end(), t->bytes.begin(), t->bytes.end());
    return out;
  }

  /// Writes the file atomically (io::AtomicFile: temporary file, fsync, rename, fsync of the directory).
  void write(const std::filesystem::path& path) const {
    const std::string header = build_header();
    AtomicFile file(path);
    const std::uint64_t n = header.size();
    std::byte len[8];
    std::memcpy(len, &n, 8);
    file.write(len, 8);
    file.write(header.data(), header.size());
    for (const Pending* t : data_order()) file.write(t->bytes.data(), t->bytes.size());
    file.commit();
  }

private:
  struct Pending {
    std::string name;
    StoredDType dtype;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;
  };

  /// Data order: widest elements first, then by name, so every tensor starts at a multiple of
  /// its element size (the header is padded to 8 bytes) and zero-copy views are aligned.
  std::vector<const Pending*> data_order() const {
    std::vector<const Pending*> order;
    for (const auto& t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
      const unsigned ba = stored_dtype_bits(a->dtype), bb = stored_dtype_bits(b->dtype);
      return ba != bb ? ba > bb : a->name < b->name;
    });
    return order;
  }

  std::string build_header() const {
    std::string h = "{";
    bool first = true;
    if (!metadata_.empty()) {
      auto meta = metadata_;
      std::sort(meta.begin(), meta.end());
      h += "\"__metadata__\":{";
      for (std::size_t i = 0; i < meta.size(); ++i) {
        if (i) h += ',';
        detail::append_json_string(h, meta[i].first);
        h += ':';
        detail::append_json_string(h, meta[i].second);
      }
      h += '}';
      first = false;
    }
    std::uint64_t offset = 0;
    for (const Pending* t : data_order()) {
      if (!first) h += ',';
      first = false;
      detail::append_json_string(h, t->name);
      h += ":{\"dtype\":\"";
      h += stored_dtype_name(t->dtype);
      h += "\",\"shape\":[";
      for (std::size_t i = 0; i < t->shape.size(); ++i) {
        if (i) h += ',';
        h += std::to_string(t->shape[i]);
      }
      h += "],\"data_offsets\":[";
      h += std::to_string(offset);
      h += ',';
      offset += t->bytes.size();
      h += std::to_string(offset);
      h += "]}";
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
    return h;
  }

  std::vector<Pending> tensors_;
  std::set<std::string, std::less<>> names_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
