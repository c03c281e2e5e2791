/// @file
/// Reading safetensors files, treating every byte as hostile.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data section.
/// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative
/// to the data section) plus an optional "__metadata__" string->string map. We accept a file only
/// if the header is well formed, every range is inside the data section, matches shape x dtype,
/// overlaps no other range, and the ranges together cover the data section without gaps (the rules
/// of the reference implementation). Every error is a `sana::error` naming the file and the tensor.
///
/// `parse_safetensors` works on bytes in memory (the fuzzer's entry point); `SafetensorsFile`
/// maps a file read-only and hands out zero-copy views or converted copies.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"
#include "sana/core/shape.hpp"
#include "sana/core/tensor.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/io/mapped_file.hpp"
#include "sana/io/messages.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; views assume a little-endian host");

/// Largest header we accept (the reference implementation's limit).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;
/// Most dimensions a tensor may have: far above any model's, and it keeps a hostile header
/// from turning 2 bytes of "1," into 8 bytes of shape, 100 MB into 400 MB.
inline constexpr std::size_t max_rank = 64;

// ---- stored dtypes -------------------------------------------------------------------------------

/// Every element type the safetensors format defines, including ones we cannot compute in.
enum class StoredDType : std::uint8_t {
  BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0,
  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64
};

namespace detail {
struct stored_dtype_info {
  std::string_view name;
  StoredDType type;
  unsigned bits;  // sub-byte types (F4, F6_*) pack several elements per byte
};
inline constexpr std::array<stored_dtype_info, 20> stored_dtype_table{{
    {"BOOL", StoredDType::BOOL, 8},       {"F4", StoredDType::F4, 4},
    {"F6_E2M3", StoredDType::F6_E2M3, 6}, {"F6_E3M2", StoredDType::F6_E3M2, 6},
    {"U8", StoredDType::U8, 8},           {"I8", StoredDType::I8, 8},
    {"F8_E5M2", StoredDType::F8_E5M2, 8}, {"F8_E4M3", StoredDType::F8_E4M3, 8},
    {"F8_E8M0", StoredDType::F8_E8M0, 8}, {"I16", StoredDType::I16, 16},
    {"U16", StoredDType::U16, 16},        {"F16", StoredDType::F16, 16},
    {"BF16", StoredDType::BF16, 16},      {"I32", StoredDType::I32, 32},
    {"U32", StoredDType::U32, 32},        {"F32", StoredDType::F32, 32},
    {"C64", StoredDType::C64, 64},        {"F64", StoredDType::F64, 64},
    {"I64", StoredDType::I64, 64},        {"U64", StoredDType::U64, 64},
}};
} // namespace detail

/// The dtype's spelling in safetensors headers ("F32", "BF16", ...).
constexpr std::string_view stored_dtype_name(StoredDType t) {
  return detail::stored_dtype_table[static_cast<std::size_t>(t)].name;
}
/// Bits per element (4 and 6 for the packed float formats).
constexpr unsigned stored_dtype_bits(StoredDType t) {
  return detail::stored_dtype_table[static_cast<std::size_t>(t)].bits;
}
/// Parses a header dtype string; nullopt for anything outside the format.
constexpr std::optional<StoredDType> parse_stored_dtype(std::string_view s) {
  for (const auto& e : detail::stored_dtype_table)
    if (e.name == s) return e.type;
  return std::nullopt;
}
/// The library dtype with the same bytes, if any.
constexpr std::optional<DType> to_dtype(StoredDType t) {
  switch (t) {
    case StoredDType::F32: return DType::F32;
    case StoredDType::F16: return DType::F16;
    case StoredDType::BF16: return DType::BF16;
    case StoredDType::I32: return DType::I32;
    case StoredDType::I64: return DType::I64;
    case StoredDType::U8: return DType::U8;
    default: return std::nullopt;
  }
}
constexpr StoredDType to_stored_dtype(DType t) {
  switch (t) {
    case DType::F32: return StoredDType::F32;
    case DType::F16: return StoredDType::F16;
    case DType::BF16: return StoredDType::BF16;
    case DType::I32: return StoredDType::I32;
    case DType::I64: return StoredDType::I64;
    case DType::U8: return StoredDType::U8;
  }
  return StoredDType::U8;
}

static_assert([] {
  for (std::size_t i = 0; i < detail::stored_dtype_table.size(); ++i)
    if (static_cast<std::size_t>(detail::stored_dtype_table[i].type) != i) return false;
  return true;
}(), "stored_dtype_table must be indexed by StoredDType");

namespace detail {
inline std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // host is little-endian (asserted above)
  return v;
}
} // namespace detail

// ---- parsed header -------------------------------------------------------------------------------

/// One tensor of a parsed file. `bytes` points into the file's data section.
struct TensorEntry {
  std::string name;
  StoredDType dtype = StoredDType::U8;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  ///< byte offset in the data section
  std::uint64_t end = 0;    ///< one past the last byte
  std::int64_t numel = 0;
  std::span<const std::byte> bytes;

  std::size_t rank() const { return shape.size(); }
};

/// Everything a header says, validated against the file it came from.
struct ParsedSafetensors {
  std::vector<TensorEntry> tensors;                               ///< sorted by name
  std::vector<std::pair<std::string, std::string>> metadata;      ///< sorted by key
  std::uint64_t header_bytes = 0;                                 ///< N, the JSON length
  std::span<const std::byte> data;                                ///< the data section
};

namespace detail {

/// SAX handler for the header. It accepts exactly the shape the format allows and throws
/// `sana::error` at the first deviation, so hostile input never builds a large or deep DOM.
class header_sax {
public:
  using json = nlohmann::json;

  header_sax(std::string_view where, std::span<const std::byte> data, ParsedSafetensors& out)
      : where_(where), data_(data), out_(out) {}

  bool done() const { return state_ == state::done; }

  bool null() { return value("null"); }
  bool boolean(bool) { return value("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    if (v >= 0) return number_unsigned(static_cast<std::uint64_t>(v));
    if (state_ == state::shape) fail(where_, "tensor ", name_arg{cur_.name}, ": shape has a negative dimension ", v);
    if (state_ == state::offsets) fail(where_, "tensor ", name_arg{cur_.name}, ": data_offsets has a negative value ", v);
    return value("a number");
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (state_ == state::shape) {
      check(v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), where_, "tensor ",
            name_arg{cur_.name}, ": shape dimension ", v, " does not fit in int64");
      if (cur_.shape.size() == max_rank)
        fail(where_, "tensor ", name_arg{cur_.name}, ": shape has more than ", max_rank, " dimensions");
      cur_.shape.push_back(static_cast<std::int64_t>(v));
      return true;
    }
    if (state_ == state::offsets) {
      check(n_offsets_ < 2, where_, "tensor ", name_arg{cur_.name}, ": data_offsets must be [begin, end], got more than 2 values");
      offsets_[n_offsets_++] = v;
      return true;
    }
    return value("a number");
  }
  bool number_float(json::number_float_t, const json::string_t& text) {
    if (state_ == state::shape)
      fail(where_, "tensor ", name_arg{cur_.name}, ": shape dimension ", printable(text),
           " is not an integer in [0, 2^63)");
    if (state_ == state::offsets)
      fail(where_, "tensor ", name_arg{cur_.name}, ": data_offsets value ", printable(text),
           " is not an integer in [0, 2^64)");
    return value("a number");
  }
  bool string(json::string_t& s) {
    if (state_ == state::metadata) {
      out_.metadata.emplace_back(std::move(meta_key_), std::move(s));
      return true;
    }
    if (state_ == state::entry && field_ == field::dtype) {
      const auto t = parse_stored_dtype(s);
      if (!t) fail(where_, "tensor ", name_arg{cur_.name}, ": unknown dtype ", name_arg{s});
      cur_.dtype = *t;
      return true;
    }
    return value("a string");
  }
  bool binary(json::binary_t&) { return value("binary data"); }

  bool start_object(std::size_t) {
    if (state_ == state::start) {
      state_ = state::top;
      return true;
    }
    if (state_ == state::top) {
      if (top_is_metadata_) {
        state_ = state::metadata;
      } else {
        state_ = state::entry;
        seen_ = 0;
      }
      return true;
    }
    return value("an object");
  }
  bool end_object() {
    if (state_ == state::metadata) {
      state_ = state::top;
    } else if (state_ == state::entry) {
      finish_entry();
      state_ = state::top;
    } else {
      state_ = state::done;  // only `top` can close here: other states never open objects
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (state_ == state::entry && field_ == field::shape) {
      state_ = state::shape;
      return true;
    }
    if (state_ == state::entry && field_ == field::offsets) {
      state_ = state::offsets;
      n_offsets_ = 0;
      return true;
    }
    return value("an array");
  }
  bool end_array() {
    if (state_ == state::offsets)
      check(n_offsets_ == 2, where_, "tensor ", name_arg{cur_.name}, ": data_offsets must be [begin, end], got ",
            n_offsets_, " value", n_offsets_ == 1 ? "" : "s");
    state_ = state::entry;  // only shape/offsets arrays are ever opened
    return true;
  }
  bool key(json::string_t& k) {
    if (state_ == state::top) {
      top_is_metadata_ = k == "__metadata__";
      if (top_is_metadata_) {
        check(!seen_metadata_, where_, "duplicate key '__metadata__'");
        seen_metadata_ = true;
      } else {
        check(k.find('\0') == std::string::npos, where_, "tensor name ", name_arg{k}, " contains a NUL character");
        cur_ = TensorEntry{};
        cur_.name = std::move(k);
      }
      return true;
    }
    if (state_ == state::metadata) {
      meta_key_ = std::move(k);
      return true;
    }
    // state::entry (keys appear only inside objects, and entries are the only other objects)
    unsigned bit = 0;
    if (k == "dtype") {
      field_ = field::dtype, bit = 1;
    } else if (k == "shape") {
      field_ = field::shape, bit = 2;
    } else if (k == "data_offsets") {
      field_ = field::offsets, bit = 4;
    } else {
      fail(where_, "tensor ", name_arg{cur_.name}, ": unexpected field ", name_arg{k},
           " (allowed: dtype, shape, data_offsets)");
    }
    check(!(seen_ & bit), where_, "tensor ", name_arg{cur_.name}, ": duplicate field ", name_arg{k});
    seen_ |= bit;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const json::exception& ex) {
    std::string_view msg = ex.what();
    if (const auto p = msg.find("] "); p != std::string_view::npos) msg.remove_prefix(p + 2);  // drop "[json.exception...]"
    fail(where_, "header is not valid JSON (near header byte ", position, "): ", printable(msg, false, 240));
  }

private:
  enum class state { start, top, metadata, entry, shape, offsets, done };
  enum class field { dtype, shape, offsets };

  /// A scalar or container arrived where the schema does not allow it.
  bool value(const char* kind) {
    switch (state_) {
      case state::start: fail(where_, "header must be a JSON object, got ", kind);
      case state::top:
        if (top_is_metadata_) fail(where_, "__metadata__ must be an object of string to string, got ", kind);
        fail(where_, "tensor ", name_arg{cur_.name}, ": entry must be an object, got ", kind);
      case state::metadata:
        fail(where_, "__metadata__ value for key ", name_arg{meta_key_}, " must be a string, got ", kind);
      case state::entry:
        if (field_ == field::dtype) fail(where_, "tensor ", name_arg{cur_.name}, ": dtype must be a string, got ", kind);
        if (field_ == field::shape)
          fail(where_, "tensor ", name_arg{cur_.name}, ": shape must be an array of integers, got ", kind);
        fail(where_, "tensor ", name_arg{cur_.name}, ": data_offsets must be [begin, end], got ", kind);
      case state::shape:
        fail(where_, "tensor ", name_arg{cur_.name}, ": shape must hold non-negative integers, got ", kind);
      case state::offsets:
        fail(where_, "tensor ", name_arg{cur_.name}, ": data_offsets must hold non-negative integers, got ", kind);
      case state::done: break;
    }
    fail(where_, "unexpected JSON value after the header object");
  }

  void finish_entry() {
    const name_arg n{cur_.name};
    check(seen_ & 1, where_, "tensor ", n, ": missing 'dtype'");
    check(seen_ & 2, where_, "tensor ", n, ": missing 'shape'");
    check(seen_ & 4, where_, "tensor ", n, ": missing 'data_offsets'");

    const std::optional<std::int64_t> count = dims_numel(cur_.shape);  // dims are >= 0 by now
    if (!count) fail(where_, "tensor ", n, ": shape ", dims_arg{cur_.shape}, " has more than 2^63 elements");
    const std::int64_t numel = *count;
    const std::uint64_t bits = stored_dtype_bits(cur_.dtype);
    if (static_cast<std::uint64_t>(numel) > std::numeric_limits<std::uint64_t>::max() / bits)
      fail(where_, "tensor ", n, ": shape ", dims_arg{cur_.shape}, " x ", stored_dtype_name(cur_.dtype),
           " overflows the byte count");
    const std::uint64_t total_bits = static_cast<std::uint64_t>(numel) * bits;
    check(total_bits % 8 == 0, where_, "tensor ", n, ": shape ", dims_arg{cur_.shape}, " x ",
          stored_dtype_name(cur_.dtype), " is not a whole number of bytes");
    const std::uint64_t need = total_bits / 8;

    const std::uint64_t b = offsets_[0], e = offsets_[1];
    check(b <= e, where_, "tensor ", n, ": data_offsets [", b, ", ", e, ") begin after their end");
    check(e <= data_.size(), where_, "tensor ", n, ": data_offsets [", b, ", ", e,
          ") reach beyond the data section of ", data_.size(), " bytes");
    check(e - b == need, where_, "tensor ", n, ": data_offsets [", b, ", ", e, ") hold ", e - b, " bytes but shape ",
          dims_arg{cur_.shape}, " x ", stored_dtype_name(cur_.dtype), " needs ", need);
    cur_.begin = b;
    cur_.end = e;
    cur_.numel = numel;
    cur_.bytes = data_.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(need));
    out_.tensors.push_back(std::move(cur_));
  }

  std::string_view where_;
  std::span<const std::byte> data_;
  ParsedSafetensors& out_;
  state state_ = state::start;
  field field_ = field::dtype;
  bool top_is_metadata_ = false;
  bool seen_metadata_ = false;
  unsigned seen_ = 0;  // bit set of dtype/shape/data_offsets seen in the current entry
  TensorEntry cur_;
  std::string meta_key_;
  std::uint64_t offsets_[2] = {0, 0};
  std::size_t n_offsets_ = 0;
};

} // namespace detail

/// Parses and validates a whole safetensors file held in memory. `where` names it in errors.
/// The returned spans point into `file`, which must outlive them.
inline ParsedSafetensors parse_safetensors(std::span<const std::byte> file, std::string_view where) {
  check(file.size() >= 8, where, "file is ", file.size(), " bytes, too short for the 8-byte header length");
  const std::uint64_t n = detail::read_u64_le(file.data());
  check(n <= max_header_bytes, where, "header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
  check(n <= file.size() - 8, where, "header length ", n, " reaches beyond the end of the ", file.size(), "-byte file");
  check(n >= 1 && file[8] == std::byte{'{'}, where, "header must start with '{'");

  ParsedSafetensors out;
  out.header_bytes = n;
  out.data = file.subspan(8 + static_cast<std::size_t>(n));
  const auto* json_begin = reinterpret_cast<const char*>(file.data() + 8);
  detail::header_sax sax(where, out.data, out);
  // Strict mode rejects anything but whitespace after the object; the format pads with spaces.
  nlohmann::json::sax_parse(json_begin, json_begin + n, &sax, nlohmann::json::input_format_t::json, true);
  check(sax.done(), where, "header JSON ended early");

  // Names: duplicates are detected here because JSON parsers (ours included) see keys one at a time.
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < out.tensors.size(); ++i)
    check(out.tensors[i - 1].name != out.tensors[i].name, where, "duplicate tensor name ",
          detail::name_arg{out.tensors[i].name});
  std::sort(out.metadata.begin(), out.metadata.end());
  for (std::size_t i = 1; i < out.metadata.size(); ++i)
    check(out.metadata[i - 1].first != out.metadata[i].first, where, "__metadata__ has duplicate key ",
          detail::name_arg{out.metadata[i].first});

  // Ranges: sorted by [begin, end), each must start exactly where the previous one ended, so
  // there are no overlaps and no bytes that belong to no tensor.
  std::vector<std::uint32_t> order(out.tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const auto& x = out.tensors[a];
    const auto& y = out.tensors[b];
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  std::uint64_t covered = 0;
  const TensorEntry* prev = nullptr;
  for (std::uint32_t i : order) {
    const TensorEntry& t = out.tensors[i];
    if (t.begin < covered)
      fail(where, "tensor ", detail::name_arg{t.name}, " [", t.begin, ", ", t.end, ") overlaps tensor ",
           detail::name_arg{prev->name}, " [", prev->begin, ", ", prev->end, ")");
    if (t.begin > covered)
      fail(where, "bytes [", covered, ", ", t.begin, ") of the data section belong to no tensor (before tensor ",
           detail::name_arg{t.name}, ")");
    covered = t.end;
    prev = &t;
  }
  check(covered == out.data.size(), where, "bytes [", covered, ", ", out.data.size(),
        ") at the end of the data section belong to no tensor");
  return out;
}

// ---- typed access --------------------------------------------------------------------------------

namespace detail {
template <class T>
std::string_view element_name() {
  return dtype_name(dtype_of_v<T>);
}

template <std::size_t Rank>
void check_shape(std::string_view where, const TensorEntry& e, const Shape<Rank>& expected) {
  bool same = e.shape.size() == Rank;
  for (std::size_t i = 0; same && i < Rank; ++i) same = e.shape[i] == expected[i];
  check(same, where, "tensor ", name_arg{e.name}, " has shape ", dims_arg{e.shape}, " but ", dims_arg{expected},
        " was expected");
}

template <std::size_t Rank>
Shape<Rank> stored_shape(std::string_view where, const TensorEntry& e) {
  check(e.shape.size() == Rank, where, "tensor ", name_arg{e.name}, " has rank ", e.shape.size(), " (shape ",
        dims_arg{e.shape}, ") but rank ", Rank, " was expected");
  Shape<Rank> s{};
  std::copy(e.shape.begin(), e.shape.end(), s.begin());
  return s;
}

template <class Src, class T>
void convert_elements(const std::byte* src, T* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, src + i * sizeof(Src), sizeof(Src));  // the source need not be aligned
    dst[i] = convert<T>(v);
  }
}
} // namespace detail

/// Converts `n` elements stored as `dtype` at `src` (any alignment) to the float type T with round-to-nearest-even;
/// false when `dtype` is not F32, F16 or BF16.
template <FloatElement T>
bool convert_float_elements(StoredDType dtype, const std::byte* src, T* dst, std::size_t n) {
  switch (dtype) {
    case StoredDType::F32: detail::convert_elements<float>(src, dst, n); return true;
    case StoredDType::F16: detail::convert_elements<f16>(src, dst, n); return true;
    case StoredDType::BF16: detail::convert_elements<bf16>(src, dst, n); return true;
    default: return false;
  }
}

/// Copies a tensor's elements into `dst` (`numel` elements, contiguous), converting floating
/// storage (F32, F16, BF16) to the floating type T with round-to-nearest-even; integer storage
/// loads only into the same type. Anything else is an error naming the file and tensor.
template <Element T>
void copy_elements(std::string_view where, const TensorEntry& e, T* dst) {
  const auto n = static_cast<std::size_t>(e.numel);
  const std::optional<DType> stored = to_dtype(e.dtype);
  if (stored == dtype_of_v<T>) {
    if (n) std::memcpy(dst, e.bytes.data(), n * sizeof(T));
    return;
  }
  if constexpr (FloatElement<T>) {
    if (convert_float_elements(e.dtype, e.bytes.data(), dst, n)) return;
    fail(where, "tensor ", detail::name_arg{e.name}, " is stored as ", stored_dtype_name(e.dtype), " and cannot be loaded as ",
         detail::element_name<T>(), " (supported: F32, F16, BF16)");
  } else {
    fail(where, "tensor ", detail::name_arg{e.name}, " is stored as ", stored_dtype_name(e.dtype), " and cannot be loaded as ",
         detail::element_name<T>(), " (integer tensors load only into their own type)");
  }
}

/// Zero-copy view of a tensor stored exactly as T with exactly `expected` shape. Fails when the
/// dtype or shape differs, or when the bytes are not aligned for T (safetensors does not promise
/// alignment; use `load_tensor` or `borrow_or_load` then).
template <Element T, std::size_t Rank>
TensorView<const T, Rank, host_space> view_tensor(std::string_view where, const TensorEntry& e,
                                                  const Shape<Rank>& expected) {
  check(to_dtype(e.dtype) == dtype_of_v<T>, where, "tensor ", detail::name_arg{e.name}, " is stored as ",
        stored_dtype_name(e.dtype), " but a zero-copy ", detail::element_name<T>(), " view was requested");
  detail::check_shape(where, e, expected);
  const auto addr = reinterpret_cast<std::uintptr_t>(e.bytes.data());
  check(addr % alignof(T) == 0, where, "tensor ", detail::name_arg{e.name}, " at data offset ", e.begin,
        " is not aligned to ", alignof(T), " bytes, so it cannot be viewed in place; load a copy instead");
  return TensorView<const T, Rank, host_space>(reinterpret_cast<const T*>(e.bytes.data()), expected);
}

/// Converting copy into a new host tensor; the stored shape must equal `expected`.
template <Element T, std::size_t Rank>
Tensor<T, Rank, reference_backend> load_tensor(std::string_view where, const TensorEntry& e, const Shape<Rank>& expected) {
  detail::check_shape(where, e, expected);
  Tensor<T, Rank, reference_backend> out(expected);
  copy_elements(where, e, out.data());
  return out;
}

/// Converting copy into caller-owned memory; the stored shape must equal `dst.shape()`.
template <Element T, std::size_t Rank>
void load_tensor_into(std::string_view where, const TensorEntry& e, const TensorView<T, Rank, host_space>& dst) {
  detail::check_shape(where, e, dst.shape());
  check(dst.is_contiguous(), where, "tensor ", detail::name_arg{e.name}, ": destination view must be contiguous");
  copy_elements(where, e, dst.data());
}

/// A zero-copy view when the file allows one, otherwise a converted copy that `view` points into.
template <Element T, std::size_t Rank>
struct BorrowedOrOwned {
  Tensor<T, Rank, reference_backend> owned;  ///< empty when `view` borrows the mapping
  TensorView<const T, Rank, host_space> view;
  bool zero_copy() const { return !owned.defined(); }
};

template <Element T, std::size_t Rank>
BorrowedOrOwned<T, Rank> borrow_or_load(std::string_view where, const TensorEntry& e, const Shape<Rank>& expected) {
  detail::check_shape(where, e, expected);
  BorrowedOrOwned<T, Rank> r;
  const auto addr = reinterpret_cast<std::uintptr_t>(e.bytes.data());
  if (to_dtype(e.dtype) == dtype_of_v<T> && addr % alignof(T) == 0) {
    r.view = TensorView<const T, Rank, host_space>(reinterpret_cast<const T*>(e.bytes.data()), expected);
  } else {
    r.owned = load_tensor<T>(where, e, expected);
    r.view = std::as_const(r.owned).view();
  }
  return r;
}

// ---- files ---------------------------------------------------------------------------------------

/// A validated safetensors file: either a read-only mapping it owns, or borrowed bytes.
class SafetensorsFile {
public:
  SafetensorsFile() = default;

  /// Maps and validates `path`. `display_name` (default: the file name) prefixes every error.
  static SafetensorsFile open(const std::filesystem::path& path, std::string display_name = {}) {
    SafetensorsFile f;
    f.name_ = display_name.empty() ? path.filename().string() : std::move(display_name);
    f.map_ = MappedFile::open(path, f.name_);
    f.parsed_ = parse_safetensors(f.map_.bytes(), f.name_);
    return f;
  }

  /// Validates bytes the caller keeps alive for the lifetime of this object.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string display_name) {
    SafetensorsFile f;
    f.name_ = std::move(display_name);
    f.parsed_ = parse_safetensors(bytes, f.name_);
    return f;
  }

  const std::string& name() const { return name_; }
  /// Tensors sorted by name.
  std::span<const TensorEntry> tensors() const { return parsed_.tensors; }
  std::size_t size() const { return parsed_.tensors.size(); }
  /// `__metadata__`, sorted by key.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return parsed_.metadata; }
  const std::string* metadata_value(std::string_view key) const {
    const auto& m = parsed_.metadata;
    auto it = std::lower_bound(m.begin(), m.end(), key, [](const auto& kv, std::string_view k) { return kv.first < k; });
    return it != m.end() && it->first == key ? &it->second : nullptr;
  }
  std::uint64_t header_bytes() const { return parsed_.header_bytes; }
  std::span<const std::byte> data_section() const { return parsed_.data; }

  /// nullptr when absent.
  const TensorEntry* find(std::string_view tensor) const {
    const auto& t = parsed_.tensors;
    auto it = std::lower_bound(t.begin(), t.end(), tensor, [](const TensorEntry& e, std::string_view k) { return e.name < k; });
    return it != t.end() && it->name == tensor ? &*it : nullptr;
  }
  bool contains(std::string_view tensor) const { return find(tensor) != nullptr; }
  /// Throws "[file] tensor 'x' not found" when absent.
  const TensorEntry& at(std::string_view tensor) const {
    const TensorEntry* e = find(tensor);
    if (!e) fail(name_, "tensor ", detail::name_arg{tensor}, " not found (the file has ", size(), " tensors)");
    return *e;
  }

  template <Element T, std::size_t Rank>
  TensorView<const T, Rank, host_space> view(std::string_view tensor, const Shape<Rank>& expected) const {
    return view_tensor<T>(name_, at(tensor), expected);
  }
  template <Element T, std::size_t Rank>
  Tensor<T, Rank, reference_backend> load(std::string_view tensor, const Shape<Rank>& expected) const {
    return load_tensor<T>(name_, at(tensor), expected);
  }
  /// Loads with whatever shape is stored, as long as the rank is Rank.
  template <Element T, std::size_t Rank>
  Tensor<T, Rank, reference_backend> load(std::string_view tensor) const {
    const TensorEntry& e = at(tensor);
    return load_tensor<T>(name_, e, detail::stored_shape<Rank>(name_, e));
  }
  template <Element T, std::size_t Rank>
  void load(std::string_view tensor, const TensorView<T, Rank, host_space>& dst) const {
    load_tensor_into(name_, at(tensor), dst);
  }
  template <Element T, std::size_t Rank>
  BorrowedOrOwned<T, Rank> borrow_or_load(std::string_view tensor, const Shape<Rank>& expected) const {
    return io::borrow_or_load<T>(name_, at(tensor), expected);
  }

private:
  MappedFile map_;
  std::string name_;
  ParsedSafetensors parsed_;
};

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
