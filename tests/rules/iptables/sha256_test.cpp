#include "rules/iptables/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace kubenat {
namespace {

std::string hex(const std::array<std::uint8_t, 32>& digest) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return hex(Sha256().digest(data)); }

// NIST FIPS 180-4 example vectors.

TEST(Sha256, HashesTheEmptyString) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, HashesAbc) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, HashesThe448BitTwoBlockMessage) {
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, HashesAMillionAs) {
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding boundaries (expected values from coreutils sha256sum): 55 bytes is
// the longest message whose padding fits in one block, 56 the shortest that
// needs a second, 64 a full block followed by a padding-only block.

TEST(Sha256, Hashes55BytesInOneBlock) {
  EXPECT_EQ(sha256_hex(std::string(55, 'x')),
            "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
}

TEST(Sha256, Hashes56BytesWithPaddingSpillingIntoASecondBlock) {
  EXPECT_EQ(sha256_hex(std::string(56, 'x')),
            "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
}

TEST(Sha256, Hashes63Bytes) {
  EXPECT_EQ(sha256_hex(std::string(63, 'x')),
            "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2");
}

TEST(Sha256, HashesExactlyOneBlock) {
  EXPECT_EQ(sha256_hex(std::string(64, 'x')),
            "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

TEST(Sha256, Hashes65Bytes) {
  EXPECT_EQ(sha256_hex(std::string(65, 'x')),
            "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9");
}

TEST(Sha256, Hashes119And120BytesAroundTheSecondBlockBoundary) {
  EXPECT_EQ(sha256_hex(std::string(119, 'x')),
            "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c");
  EXPECT_EQ(sha256_hex(std::string(120, 'x')),
            "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98");
}

TEST(Sha256, HashesBytesAbove127AsUnsigned) {
  // printf '\xff\x80' | sha256sum
  EXPECT_EQ(sha256_hex("\xff\x80"),
            "85c61621ebd04403f66d96fe300cf10b3844de7358184f1276cb08790fd135f1");
}

TEST(Sha256, OneHasherHashesOneInputAfterAnother) {
  Sha256 hasher;
  const auto abc = hasher.digest("abc");
  EXPECT_EQ(hex(hasher.digest("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hasher.digest("abc"), abc);
}

}  // namespace
}  // namespace kubenat
