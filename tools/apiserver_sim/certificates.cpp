#include "tools/apiserver_sim/certificates.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kubenat::apiserver_sim {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string openssl_error(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  return "certificates: " + what + ": " + text;
}

bool is_ip(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::expected<KeyPtr, std::string> make_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return std::unexpected(openssl_error("EC key generation"));
  return key;
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  return extension && X509_add_ext(cert, extension.get(), -1) == 1;
}

// A certificate for `key` named `common_name`, signed by issuer_key (itself
// when issuer is null).
std::expected<CertPtr, std::string> make_certificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                                                     EVP_PKEY* issuer_key, long serial,
                                                     const std::vector<std::pair<int, std::string>>& extensions) {
  CertPtr cert(X509_new());
  if (!cert) return std::unexpected(openssl_error("X509_new"));
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("kubenat"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  for (const auto& [nid, value] : extensions) {
    if (!add_extension(cert.get(), issuer != nullptr ? issuer : cert.get(), nid, value)) {
      return std::unexpected(openssl_error("extension " + value));
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return std::unexpected(openssl_error("X509_sign"));
  return cert;
}

template <class Write>
std::expected<std::string, std::string> to_pem(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return std::unexpected(openssl_error("PEM encoding"));
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

std::expected<Certificates, std::string> generate_certificates(const std::string& host) {
  auto ca_key = make_key();
  if (!ca_key) return std::unexpected(ca_key.error());
  auto ca = make_certificate(ca_key->get(), "kubenat-apiserver-sim-ca", nullptr, ca_key->get(), 1,
                             {{NID_basic_constraints, "critical,CA:TRUE"},
                              {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                              {NID_subject_key_identifier, "hash"}});
  if (!ca) return std::unexpected(ca.error());

  auto key = make_key();
  if (!key) return std::unexpected(key.error());
  std::string names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (!host.empty() && host != "localhost" && host != "127.0.0.1" && host != "::1" && host != "0.0.0.0" && host != "::") {
    names += (is_ip(host) ? ",IP:" : ",DNS:") + host;
  }
  auto cert = make_certificate(key->get(), "kubenat-apiserver-sim", ca->get(), ca_key->get(), 2,
                               {{NID_basic_constraints, "critical,CA:FALSE"},
                                {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                {NID_ext_key_usage, "serverAuth"},
                                {NID_authority_key_identifier, "keyid:always"},
                                {NID_subject_alt_name, names}});
  if (!cert) return std::unexpected(cert.error());

  Certificates out;
  auto ca_pem = to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, ca->get()); });
  auto cert_pem = to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert->get()); });
  auto key_pem = to_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key->get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!ca_pem || !cert_pem || !key_pem) return std::unexpected(openssl_error("PEM encoding"));
  return Certificates{std::move(*ca_pem), std::move(*cert_pem), std::move(*key_pem)};
}

}  // namespace kubenat::apiserver_sim
