/// @file
/// `ModelFolder`: the weights of one diffusers component folder (`transformer/`, `vae/`, ...),
/// either a single `*.safetensors` file or shards listed by a `*.safetensors.index.json`.
/// The index is hostile input too: shard names must be plain file names in the folder, every
/// listed tensor must be in its shard, and every shard tensor must be listed exactly once.
/// Lookups record which tensors were used so a model loader can report unexpected ones.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/json_file.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

struct FolderOptions {
  /// diffusers weight variant, e.g. "fp16": reads `diffusion_pytorch_model.fp16.safetensors`
  /// or `diffusion_pytorch_model.safetensors.index.fp16.json`. Empty: the plain files.
  std::string variant;
};

namespace detail {
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
/// A shard name from an index must name a file directly inside the folder.
inline bool plain_file_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\\') == std::string_view::npos && s.find('\0') == std::string_view::npos;
}
/// "transformer" for "models/transformer/" or "models/transformer".
inline std::string folder_display_name(const std::filesystem::path& dir) {
  std::filesystem::path p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string s = p.filename().string();
  return s.empty() || s == "." ? dir.string() : s;
}
inline std::string join_names(const std::vector<std::string>& names, std::size_t max_shown = 8) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max_shown; ++i) s += (i ? ", " : "") + quote_name(names[i]);
  if (names.size() > max_shown) s += " and " + std::to_string(names.size() - max_shown) + " more";
  return s;
}
} // namespace detail

/// The tensors of one component folder, across shards.
class ModelFolder {
public:
  ModelFolder() = default;

  static ModelFolder open(const std::filesystem::path& dir, const FolderOptions& options = {}) {
    ModelFolder f;
    f.path_ = dir;
    f.name_ = detail::folder_display_name(dir);
    std::error_code ec;
    require_directory(dir, f.name_);

    const std::string v = options.variant.empty() ? "" : "." + options.variant;
    const std::string index_suffix = ".safetensors.index" + v + ".json";
    const std::string file_suffix = v + ".safetensors";
    std::vector<std::string> indexes, files;
    std::filesystem::directory_iterator it(dir, ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      // Every entry whose name matches, whatever it is: opening a directory, a FIFO or a dangling link of that
      // name says what it is, rather than "no *.safetensors file".
      const std::string n = it->path().filename().string();
      if (detail::ends_with(n, index_suffix)) indexes.push_back(n);
      else if (detail::ends_with(n, file_suffix)) files.push_back(n);
    }
    check(!ec, f.name_, "cannot list '", dir.string(), "': ", ec.message());
    std::sort(indexes.begin(), indexes.end());
    std::sort(files.begin(), files.end());

    if (indexes.size() > 1) fail(f.name_, "several index files, cannot choose: ", detail::join_names(indexes));
    if (indexes.size() == 1) {
      f.open_sharded(indexes[0]);
    } else {
      f.open_single(files, v);
    }
    f.used_.assign(f.refs_.size(), false);
    return f;
  }

  /// Folder display name ("transformer").
  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  /// The index file's display name, or the single file's.
  const std::string& source_name() const { return source_name_; }
  bool sharded() const { return sharded_; }
  std::span<const SafetensorsFile> files() const { return shards_; }
  std::size_t size() const { return refs_.size(); }

  /// Reads `config.json` next to the weights.
  JsonConfig config() const { return JsonConfig::load(path_ / "config.json", name_ + "/config.json"); }

  /// nullptr when absent; does not count as a use.
  const TensorEntry* find(std::string_view key) const {
    const std::size_t i = index_of(key);
    return i == npos ? nullptr : &entry(i);
  }
  bool contains(std::string_view key) const { return index_of(key) != npos; }
  /// The file that holds `key` (for error messages); throws when absent.
  const SafetensorsFile& file_of(std::string_view key) const { return shards_[refs_[require(key)].shard]; }

  /// The entry for `key`, marked used; throws "[source] tensor 'key' not found" when absent.
  const TensorEntry& at(std::string_view key) { return entry(use(key)); }
  void mark_used(std::string_view key) { (void)at(key); }

  /// Zero-copy view (see `view_tensor`); errors name the shard file.
  template <Element T, std::size_t Rank>
  TensorView<const T, Rank, host_space> view(std::string_view key, const Shape<Rank>& expected) {
    const std::size_t i = use(key);
    return view_tensor<T>(shards_[refs_[i].shard].name(), entry(i), expected);
  }
  template <Element T, std::size_t Rank>
  Tensor<T, Rank, reference_backend> load(std::string_view key, const Shape<Rank>& expected) {
    const std::size_t i = use(key);
    auto t = load_tensor<T>(shards_[refs_[i].shard].name(), entry(i), expected);
    drop_mapped_pages(entry(i).bytes);  // the copy is what stays resident
    return t;
  }
  /// `load("blocks.0.attn1.to_q.weight", view)`: converting copy with the view's shape.
  template <Element T, std::size_t Rank>
  void load(std::string_view key, const TensorView<T, Rank, host_space>& dst) {
    const std::size_t i = use(key);
    load_tensor_into(shards_[refs_[i].shard].name(), entry(i), dst);
    drop_mapped_pages(entry(i).bytes);
  }
  /// The entry of `key` with its shape checked against `expected`, for code that reads the mapped bytes itself
  /// (they stay valid while this folder lives).
  template <std::size_t Rank>
  const TensorEntry& checked_entry(std::string_view key, const Shape<Rank>& expected) {
    const std::size_t i = use(key);
    detail::check_shape(shards_[refs_[i].shard].name(), entry(i), expected);
    return entry(i);
  }
  template <Element T, std::size_t Rank>
  BorrowedOrOwned<T, Rank> borrow_or_load(std::string_view key, const Shape<Rank>& expected) {
    const std::size_t i = use(key);
    return io::borrow_or_load<T>(shards_[refs_[i].shard].name(), entry(i), expected);
  }

  /// Every key, sorted.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(refs_.size());
    for (std::size_t i = 0; i < refs_.size(); ++i) out.push_back(entry(i).name);
    return out;
  }
  /// Keys never looked up through `at`/`view`/`load`/`mark_used`, sorted.
  std::vector<std::string> unused_keys() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < refs_.size(); ++i)
      if (!used_[i]) out.push_back(entry(i).name);
    return out;
  }
  /// Throws listing the unexpected tensors, if any.
  void expect_all_used() const {
    const auto extra = unused_keys();
    check(extra.empty(), name_, extra.size(), " unexpected tensor", extra.size() == 1 ? "" : "s",
          " not used by the model: ", detail::join_names(extra));
  }

private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct Ref {
    std::uint32_t shard;
    std::uint32_t index;  // into shards_[shard].tensors()
  };

  const TensorEntry& entry(std::size_t i) const { return shards_[refs_[i].shard].tensors()[refs_[i].index]; }

  std::size_t index_of(std::string_view key) const {
    std::size_t lo = 0, hi = refs_.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (entry(mid).name < key) lo = mid + 1;
      else hi = mid;
    }
    return lo < refs_.size() && entry(lo).name == key ? lo : npos;
  }
  std::size_t use(std::string_view key) {
    const std::size_t i = require(key);
    used_[i] = true;
    return i;
  }
  std::size_t require(std::string_view key) const {
    const std::size_t i = index_of(key);
    if (i == npos) fail(source_name_, "tensor ", detail::quote_name(key), " not found (", refs_.size(), " tensors)");
    return i;
  }

  void open_single(const std::vector<std::string>& files, const std::string& v) {
    std::vector<std::string> preferred;
    for (const char* stem : {"diffusion_pytorch_model", "model"}) {
      const std::string n = stem + v + ".safetensors";
      if (std::binary_search(files.begin(), files.end(), n)) preferred.push_back(n);
    }
    std::string chosen;
    if (preferred.size() == 1) chosen = preferred[0];
    else if (preferred.size() > 1) fail(name_, "both ", detail::join_names(preferred), " exist, cannot choose");
    else if (files.size() == 1) chosen = files[0];
    else if (files.empty()) fail(name_, "no *", v, ".safetensors file and no index in '", path_.string(), "'");
    else fail(name_, "several *.safetensors files and no index, cannot choose: ", detail::join_names(files));

    source_name_ = name_ + "/" + chosen;
    shards_.push_back(SafetensorsFile::open(path_ / chosen, source_name_));
    const auto& t = shards_[0].tensors();
    check(t.size() < UINT32_MAX, source_name_, "too many tensors");
    for (std::size_t i = 0; i < t.size(); ++i) refs_.push_back({0, static_cast<std::uint32_t>(i)});
  }

  void open_sharded(const std::string& index_file) {
    sharded_ = true;
    source_name_ = name_ + "/" + index_file;
    const JsonConfig index = JsonConfig::load(path_ / index_file, source_name_);
    check(index.contains("weight_map"), source_name_, "missing 'weight_map'");
    const auto& wm = index.json()["weight_map"];
    check(wm.is_object(), source_name_, "'weight_map' must be an object of tensor name to shard file, got ",
          detail::json_excerpt(wm));

    // Shard names first, all validated before any file is touched.
    std::map<std::string, std::uint32_t, std::less<>> shard_ids;
    for (const auto& [key, shard] : wm.items()) {
      check(shard.is_string(), source_name_, "weight_map: tensor ", detail::quote_name(key), " must map to a file name, got ",
            detail::json_excerpt(shard));
      const auto& s = shard.get_ref<const std::string&>();
      check(detail::plain_file_name(s), source_name_, "weight_map: tensor ", detail::quote_name(key), " maps to shard ",
            detail::quote_name(s), ", which is not a plain file name inside the folder");
      shard_ids.emplace(s, 0);
    }
    check(shard_ids.size() < UINT32_MAX, source_name_, "too many shards");
    for (auto& [s, id] : shard_ids) {
      id = static_cast<std::uint32_t>(shards_.size());
      std::error_code ec;
      check(std::filesystem::exists(std::filesystem::symlink_status(path_ / s, ec)), source_name_, "shard ", detail::quote_name(s),
            " does not exist in '", path_.string(), "'");
      shards_.push_back(SafetensorsFile::open(path_ / s, name_ + "/" + s));
    }

    // Every listed tensor is in its shard (nlohmann keeps items sorted, so refs_ come out sorted).
    for (const auto& [key, shard] : wm.items()) {
      const std::uint32_t id = shard_ids.find(shard.get_ref<const std::string&>())->second;
      const SafetensorsFile& f = shards_[id];
      const TensorEntry* e = f.find(key);
      check(e != nullptr, source_name_, "tensor ", detail::quote_name(key), " is listed in shard ",
            detail::quote_name(shard.get_ref<const std::string&>()), " but that shard does not contain it");
      refs_.push_back({id, static_cast<std::uint32_t>(e - f.tensors().data())});
    }
    // ... and every shard tensor is listed, for that shard.
    for (std::uint32_t id = 0; id < shards_.size(); ++id) {
      for (const TensorEntry& e : shards_[id].tensors()) {
        const auto it = wm.find(e.name);
        check(it != wm.end(), shards_[id].name(), "tensor ", detail::quote_name(e.name), " is not listed in ", source_name_);
        const auto& listed = it->get_ref<const std::string&>();
        const std::uint32_t listed_id = shard_ids.find(listed)->second;
        check(listed_id == id, source_name_, "tensor ", detail::quote_name(e.name), " appears in shards ",
              detail::quote_name(listed), " and ", detail::quote_name(shards_[id].name()), "; the index lists only the first");
      }
    }
  }

  std::filesystem::path path_;
  std::string name_;
  std::string source_name_;
  bool sharded_ = false;
  std::vector<SafetensorsFile> shards_;
  std::vector<Ref> refs_;  // sorted by tensor name
  std::vector<bool> used_;
};

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
