#include "rules/kubernetes_validation.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace kubenat {
namespace {

TEST(KubernetesValidation, DnsLabelIsLowercaseAlphanumericAndDashUpTo63) {
  for (const std::string& good :
       std::initializer_list<std::string>{"a", "web", "p80", "80", "a-b", std::string(63, 'a')}) {
    EXPECT_TRUE(is_dns_label(good)) << good;
  }
  for (const std::string& bad :
       std::initializer_list<std::string>{"", "-a", "a-", "A", "a.b", "a_b", "a b", std::string(64, 'a')}) {
    EXPECT_FALSE(is_dns_label(bad)) << bad;
  }
}

TEST(KubernetesValidation, Dns1035LabelStartsWithALetter) {
  EXPECT_TRUE(is_dns_1035_label("web-1"));
  EXPECT_FALSE(is_dns_1035_label("1web"));
  EXPECT_FALSE(is_dns_1035_label("web.frontend"));
  EXPECT_FALSE(is_dns_1035_label(std::string(64, 'a')));
}

// Kubernetes holds a subdomain to 253 characters but not its parts to 63.
TEST(KubernetesValidation, DnsSubdomainPartsMayBeLongerThanALabel) {
  EXPECT_TRUE(is_dns_subdomain("a.b-c.d1"));
  EXPECT_TRUE(is_dns_subdomain(std::string(100, 'a') + "." + std::string(100, 'b')));
  EXPECT_TRUE(is_dns_subdomain(std::string(253, 'a')));
  EXPECT_FALSE(is_dns_subdomain(std::string(254, 'a')));
  for (const char* bad : {"", "a..b", ".a", "a.", "a.-b", "A.b", "a_b"}) {
    EXPECT_FALSE(is_dns_subdomain(bad)) << bad;
  }
}

TEST(KubernetesValidation, LabelValueMayBeEmptyOrMixedCaseWithDotsAndUnderscores) {
  for (const char* good : {"", "zone-a", "Zone_A.1"}) {
    EXPECT_TRUE(is_label_value(good)) << good;
  }
  for (const std::string& bad : std::initializer_list<std::string>{"-a", "a.", "a b", "a/b", std::string(64, 'a')}) {
    EXPECT_FALSE(is_label_value(bad)) << bad;
  }
}

TEST(KubernetesValidation, IanaServiceNameHasALetterAndAtMost15Characters) {
  for (const char* good : {"http", "h2c", "x-8080", "abcdefghijklmno"}) {
    EXPECT_TRUE(is_iana_service_name(good)) << good;
  }
  for (const char* bad : {"", "8080", "abcdefghijklmnop", "-http", "http-", "a--b", "HTTP", "http_alt", "a.b"}) {
    EXPECT_FALSE(is_iana_service_name(bad)) << bad;
  }
}

TEST(KubernetesValidation, SpecialAddressesAreNamed) {
  const auto kind = [](const char* text) { return std::string(special_address_kind(*IpAddress::parse(text))); };
  EXPECT_EQ(kind("0.0.0.0"), "an unspecified address");
  EXPECT_EQ(kind("::"), "an unspecified address");
  EXPECT_EQ(kind("127.0.0.53"), "a loopback address");
  EXPECT_EQ(kind("::1"), "a loopback address");
  EXPECT_EQ(kind("169.254.169.254"), "a link-local address");
  EXPECT_EQ(kind("fe80::1"), "a link-local address");
  EXPECT_EQ(kind("224.0.0.251"), "a link-local multicast address");
  EXPECT_EQ(kind("ff02::fb"), "a link-local multicast address");
  EXPECT_EQ(kind("10.1.0.1"), "");
  EXPECT_EQ(kind("2001:db8::1"), "");
  EXPECT_EQ(kind("224.0.1.1"), "");
}

}  // namespace
}  // namespace kubenat
