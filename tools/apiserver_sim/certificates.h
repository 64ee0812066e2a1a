#pragma once

// Certificates for the simulator's HTTPS: a throw-away CA and a serving
// certificate it signed, made with OpenSSL at start. Clients trust the CA
// (kubeconfig certificate-authority-data); Go refuses a bare self-signed
// serving certificate as its own root in some versions, a separate CA never.

#include <expected>
#include <string>

namespace kubenat::apiserver_sim {

struct Certificates {
  std::string ca_pem;    // the CA certificate
  std::string cert_pem;  // the serving certificate
  std::string key_pem;   // the serving certificate's private key
};

// The serving certificate names localhost, 127.0.0.1, ::1 and host (an IP
// address or a DNS name). Valid from an hour ago for ten years.
[[nodiscard]] std::expected<Certificates, std::string> generate_certificates(const std::string& host);

}  // namespace kubenat::apiserver_sim
