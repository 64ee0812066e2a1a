#pragma once

// SHA-256 through OpenSSL's EVP interface, which uses the CPU's SHA
// extensions where it has them.

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

struct evp_md_st;
struct evp_md_ctx_st;

namespace kubenat {

// One hasher fetches the algorithm once and reuses its digest context: a
// short input then costs about 90 ns, where a one-shot EVP_Digest() call,
// which fetches the algorithm every time, costs about 500 ns
// (bench/README.md). Not thread-safe: one per thread or per compile.
class Sha256 {
 public:
  // Throws std::runtime_error when OpenSSL offers no SHA-256 (a broken
  // installation: nothing can go on without chain names).
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  std::array<std::uint8_t, 32> digest(std::string_view data);

 private:
  struct Free {
    void operator()(evp_md_st* md) const;
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_st, Free> md_;
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace kubenat
