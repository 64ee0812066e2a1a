#include "rules/iptables/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace kubenat {

void Sha256::Free::operator()(evp_md_st* md) const { EVP_MD_free(md); }
void Sha256::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
  if (!md_ || !ctx_) throw std::runtime_error("OpenSSL offers no SHA-256");
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

std::array<std::uint8_t, 32> Sha256::digest(std::string_view data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int length = 0;
  // These fail only when memory runs out: a bug-class failure, as new's.
  if (EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_.get(), out.data(), &length) != 1 || length != out.size()) {
    throw std::runtime_error("OpenSSL's SHA-256 failed");
  }
  return out;
}

}  // namespace kubenat
