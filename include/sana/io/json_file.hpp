/// @file
/// `JsonConfig`: a parsed JSON object (a `config.json`, an index file) with typed getters whose
/// errors name the file and the key, e.g.
///   [transformer/config.json] 'num_layers' must be an integer, got "28"
/// Parsing rejects duplicate keys (nlohmann::json would silently keep the last one) and
/// absurd nesting, and parse errors carry the line and column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/mapped_file.hpp"
#include "sana/io/messages.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

/// Largest JSON file we read (index files of big models are a few MB).
inline constexpr std::uint64_t max_json_bytes = 100'000'000;
/// Deepest nesting we accept; configs are two or three levels deep.
inline constexpr int max_json_depth = 64;

namespace detail {
template <class T> struct is_std_vector : std::false_type {};
template <class T, class A> struct is_std_vector<std::vector<T, A>> : std::true_type {};

/// A JSON value shortened for an error message.
inline std::string json_excerpt(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return printable(s);
}

inline const char* json_kind(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "binary data";
}

/// Converts `v` to T, or throws "[where] 'key' must be <kind>, got <value>".
template <class T>
T json_as(const nlohmann::json& v, std::string_view where, const std::string& key) {
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return v;
  } else if constexpr (std::is_same_v<T, bool>) {
    check(v.is_boolean(), where, quote_name(key), " must be a boolean, got ", json_excerpt(v));
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    check(v.is_number_integer(), where, quote_name(key), " must be an integer, got ", json_excerpt(v));
    const bool fits = v.is_number_unsigned() ? std::in_range<T>(v.get<std::uint64_t>())
                                             : std::in_range<T>(v.get<std::int64_t>());
    check(fits, where, quote_name(key), " = ", json_excerpt(v), " does not fit in [", +std::numeric_limits<T>::min(),
          ", ", +std::numeric_limits<T>::max(), "]");
    return v.is_number_unsigned() ? static_cast<T>(v.get<std::uint64_t>()) : static_cast<T>(v.get<std::int64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    check(v.is_number(), where, quote_name(key), " must be a number, got ", json_excerpt(v));
    return static_cast<T>(v.get<double>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    check(v.is_string(), where, quote_name(key), " must be a string, got ", json_excerpt(v));
    return v.get<std::string>();
  } else if constexpr (is_std_vector<T>::value) {
    check(v.is_array(), where, quote_name(key), " must be an array, got ", json_excerpt(v));
    T out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back(json_as<typename T::value_type>(v[i], where, key + "[" + std::to_string(i) + "]"));
    return out;
  } else {
    static_assert(!sizeof(T*), "JsonConfig supports bool, integers, floats, std::string, std::vector and nlohmann::json");
  }
}
} // namespace detail

/// Parses JSON text strictly: duplicate keys and nesting deeper than `max_json_depth` are errors, parse
/// errors carry the line and column; every error is prefixed with `[where]`.
inline nlohmann::json parse_json(std::string_view text, const std::string& where) {
  using json = nlohmann::json;
  std::vector<std::unordered_set<std::string>> open_objects;  // keys seen per open object
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    check(depth <= max_json_depth, where, "JSON nesting deeper than ", max_json_depth, " levels");
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end: open_objects.pop_back(); break;
      case json::parse_event_t::key: {
        auto& k = parsed.get_ref<const std::string&>();
        check(open_objects.back().insert(k).second, where, "duplicate key ", detail::quote_name(k));
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers that overflow (1e999)
    std::string_view msg = e.what();
    if (const auto p = msg.find("] "); p != std::string_view::npos) msg.remove_prefix(p + 2);
    fail(where, "invalid JSON: ", detail::printable(msg, false, 240));
  }
}

/// A JSON object from a file, with typed, error-reporting getters. Cheap to copy (shared DOM).
class JsonConfig {
public:
  JsonConfig() = default;

  /// Reads and parses `path`; `display_name` (default: the path as given) prefixes errors.
  static JsonConfig load(const std::filesystem::path& path, std::string display_name = {}) {
    if (display_name.empty()) display_name = path.string();
    const MappedFile m = MappedFile::open(path, display_name);
    check(m.size() <= max_json_bytes, display_name, "file is ", m.size(), " bytes, above the ", max_json_bytes,
          "-byte limit for JSON");
    return parse(std::string_view(reinterpret_cast<const char*>(m.data()), m.size()), std::move(display_name));
  }

  /// Parses text; the top level must be an object.
  static JsonConfig parse(std::string_view text, std::string display_name) {
    JsonConfig c;
    c.name_ = std::move(display_name);
    c.root_ = std::make_shared<const nlohmann::json>(parse_json(text, c.name_));
    check(c.root_->is_object(), c.name_, "top level must be a JSON object, got ", detail::json_kind(*c.root_));
    c.obj_ = c.root_.get();
    return c;
  }

  const std::string& name() const { return name_; }
  const nlohmann::json& json() const { return *obj_; }
  bool contains(std::string_view key) const { return obj_->contains(key); }
  /// Keys in the order nlohmann stores them (sorted).
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : obj_->items()) out.push_back(k);
    return out;
  }

  /// Required value: throws when missing or of the wrong type.
  template <class T>
  T get(std::string_view key) const {
    const auto it = obj_->find(key);
    if (it == obj_->end()) fail(name_, "missing required key ", detail::quote_name(path(key)));
    return detail::json_as<T>(*it, name_, path(key));
  }
  /// `fallback` when the key is missing or null; a wrong type is still an error.
  template <class T>
  T get_or(std::string_view key, T fallback) const {
    const auto it = obj_->find(key);
    if (it == obj_->end() || it->is_null()) return fallback;
    return detail::json_as<T>(*it, name_, path(key));
  }
  /// nullopt when the key is missing or null.
  template <class T>
  std::optional<T> get_optional(std::string_view key) const {
    const auto it = obj_->find(key);
    if (it == obj_->end() || it->is_null()) return std::nullopt;
    return detail::json_as<T>(*it, name_, path(key));
  }
  /// When `key` (default "_class_name") is present it must name one of `classes`: a config of another model class
  /// would otherwise load as if it were ours.
  void expect_class(std::initializer_list<std::string_view> classes, std::string_view key = "_class_name") const {
    const auto v = get_optional<std::string>(key);
    if (!v) return;
    std::string known;
    for (auto c : classes) {
      if (*v == c) return;
      known += (known.empty() ? "" : ", ") + std::string(c);
    }
    fail(name_, detail::quote_name(path(key)), " is ", detail::quote_name(*v), ", not a class this loader reads (",
         known, ")");
  }

  /// Every key (but `_`-prefixed metadata such as _class_name, _diffusers_version, _name_or_path) must be in
  /// `known`: the loader reads it, or it cannot change the result. Any other key would be silently ignored, so it is
  /// refused: "[file] field 'x' is not one this loader knows (...)".
  void expect_known_keys(std::initializer_list<std::string_view> known, std::string_view what) const {
    expect_known_keys(std::span<const std::string_view>(known.begin(), known.size()), what);
  }
  void expect_known_keys(std::span<const std::string_view> known, std::string_view what) const {
    for (const auto& item : obj_->items()) {
      const std::string& key = item.key();
      if (key.starts_with("_")) continue;
      bool ok = false;
      for (auto k : known) ok = ok || key == k;
      check(ok, name_, what, " field ", detail::quote_name(path(key)),
            " is not one this version of sana-cpp knows; it would be ignored, so it is refused");
    }
  }

  /// A nested object; errors about its keys read 'outer.inner'.
  JsonConfig object(std::string_view key) const {
    const auto it = obj_->find(key);
    if (it == obj_->end()) fail(name_, "missing required key ", detail::quote_name(path(key)));
    check(it->is_object(), name_, detail::quote_name(path(key)), " must be an object, got ", detail::json_excerpt(*it));
    JsonConfig c = *this;
    c.obj_ = &*it;
    c.prefix_ = path(key) + ".";
    return c;
  }

private:
  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  std::shared_ptr<const nlohmann::json> root_;
  const nlohmann::json* obj_ = nullptr;
  std::string name_;
  std::string prefix_;
};

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
