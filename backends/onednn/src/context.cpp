#include "internal.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn {

Context::Context() : impl_(std::make_unique<Impl>()) {}
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;
std::size_t Context::primitives_created() const { return impl_->created; }

} // namespace onednn
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
