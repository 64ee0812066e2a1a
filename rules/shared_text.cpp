#include "rules/shared_text.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <ostream>

namespace kubenat {

SharedText::SharedText(std::string_view text) {
  if (text.empty()) return;
  void* memory = ::operator new(sizeof(Block) + text.size());
  block_ = new (memory) Block{1, text.size()};
  std::memcpy(static_cast<void*>(block_ + 1), text.data(), text.size());
}

SharedText::SharedText(const SharedText& other) noexcept : block_(other.block_) {
  if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
}

SharedText& SharedText::operator=(const SharedText& other) noexcept {
  if (other.block_ != nullptr) other.block_->refs.fetch_add(1, std::memory_order_relaxed);
  release();
  block_ = other.block_;
  return *this;
}

SharedText& SharedText::operator=(SharedText&& other) noexcept {
  if (this != &other) {
    release();
    block_ = other.block_;
    other.block_ = nullptr;
  }
  return *this;
}

void SharedText::release() noexcept {
  if (block_ != nullptr && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    block_->~Block();
    ::operator delete(static_cast<void*>(block_));
  }
  block_ = nullptr;
}

std::ostream& operator<<(std::ostream& out, const SharedText& text) { return out << text.view(); }

SharedText SharedTextPool::intern(std::string_view text) {
  if (text.empty()) return {};
  if (const auto it = texts_.find(text); it != texts_.end()) return it->second;
  if (texts_.size() >= drop_at_) drop_unused();
  SharedText shared(text);
  texts_.emplace(shared.view(), shared);
  return shared;
}

void SharedTextPool::drop_unused() {
  std::erase_if(texts_, [](const auto& entry) { return entry.second.use_count() == 1; });
  // Growing the limit with what stays keeps the cost of dropping linear in
  // the texts interned.
  drop_at_ = std::max(kMinDropAt, 2 * texts_.size());
}

}  // namespace kubenat
