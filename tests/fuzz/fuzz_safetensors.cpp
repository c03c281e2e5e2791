// libFuzzer target for the safetensors parser: any input must either parse into tensors whose
// spans lie inside the input, or be rejected with sana::error. Anything else (another
// exception, a sanitizer report, a crash) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "sana/io/safetensors.hpp"

namespace {
template <std::size_t Rank>
void load_ranked(const sana::io::TensorEntry& e) {
  if (e.rank() != Rank) return;
  sana::Shape<Rank> shape{};
  for (std::size_t i = 0; i < Rank; ++i) shape[i] = e.shape[i];
  auto t = sana::io::borrow_or_load<float>("fuzz", e, shape);
  volatile float sink = t.view.empty() ? 0.f : t.view.data()[0];
  (void)sink;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto parsed = sana::io::parse_safetensors(bytes, "fuzz.safetensors");
    unsigned sum = 0;
    for (const auto& e : parsed.tensors) {
      // Every span must lie inside the input; reading it all lets ASan prove that.
      if (e.bytes.data() < bytes.data() || e.bytes.data() + e.bytes.size() > bytes.data() + bytes.size()) std::abort();
      for (std::byte b : e.bytes) sum += static_cast<unsigned>(b);
      // Converting loads of floating tensors (the numel is bounded by the input size).
      switch (e.dtype) {
        case sana::io::StoredDType::F32:
        case sana::io::StoredDType::F16:
        case sana::io::StoredDType::BF16: {
          std::vector<float> out(static_cast<std::size_t>(e.numel));
          sana::io::copy_elements("fuzz", e, out.data());
          load_ranked<1>(e);
          load_ranked<2>(e);
          load_ranked<4>(e);
          break;
        }
        default:
          try {  // unsupported stored dtypes must be refused cleanly
            std::vector<float> out(static_cast<std::size_t>(e.numel));
            sana::io::copy_elements("fuzz", e, out.data());
          } catch (const sana::error&) {
          }
      }
    }
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const sana::error&) {
    // Rejected input: the expected outcome for almost everything the fuzzer makes.
  }
  return 0;
}
