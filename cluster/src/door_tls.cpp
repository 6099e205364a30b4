// SPDX-License-Identifier: Apache-2.0
// engine_host_options checked before anything starts, and door_tls's files
// loaded once with OpenSSL (engine_door.hpp). CAF's openssl module loads
// them again for every connection, on its own threads, where a file it
// cannot load throws out of its middleman: so none reaches it unchecked.

#include "engine_door.hpp"

#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <string>

namespace perdure::cluster {

namespace {

// OpenSSL's queued errors, oldest first, as one line (and the queue
// emptied).
std::string openssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given" : out;
}

int give_passphrase(char* buf, int size, int, void* user) {
  const auto& pass = *static_cast<const std::string*>(user);
  if (size <= 0 || pass.size() >= static_cast<std::size_t>(size))
    return 0; // too long for OpenSSL's buffer: no passphrase
  std::memcpy(buf, pass.data(), pass.size());
  return static_cast<int>(pass.size());
}

perdure::status refused(std::string_view what, const std::string& file,
                        std::string why) {
  return {errc::invalid_argument,
          fmt::format("engine_host_options::tls: {} '{}': {}", what, file,
                      std::move(why))};
}

} // namespace

perdure::status check_host_options(const engine_host_options& o) {
  if (o.engine.event_log)
    return {errc::invalid_argument,
            "engine_host_options::engine.event_log must be unset: the host "
            "opens each engine on its partition's store"};
  if (!o.engine.metrics_address.empty() || !o.engine.ui_address.empty())
    return {errc::invalid_argument,
            "engine_host_options::engine: metrics_address and ui_address "
            "must be unset (each partition's engine would listen); set "
            "engine_host_options::metrics_address: one /metrics for every "
            "engine"};
  if (o.tls.enabled() && o.serve_address.empty())
    return {errc::invalid_argument,
            "engine_host_options::tls is set but serve_address is empty: "
            "a host without a door forwards nothing"};
  return {};
}

perdure::status check_door_tls(const door_tls& tls) {
  if (!tls.enabled())
    return {};
  for (auto [field, value] : {std::pair{"certificate", &tls.certificate},
                              {"key", &tls.key},
                              {"ca_file", &tls.ca_file}})
    if (value->empty())
      return {errc::invalid_argument,
              fmt::format("engine_host_options::tls: {} is empty (mutual "
                          "TLS needs certificate, key and ca_file)",
                          field)};
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
      SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    return {errc::io, "OpenSSL could not make a context: " + openssl_errors()};
  SSL_CTX_set_default_passwd_cb(ctx.get(), give_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(
      ctx.get(), const_cast<std::string*>(&tls.passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate.c_str()) !=
      1)
    return refused("certificate", tls.certificate, openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    bool mismatch =
        ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    auto why = openssl_errors();
    return refused("key", tls.key,
                   mismatch ? "it does not match the certificate: " + why
                            : why + " (unreadable, not PEM, or a wrong "
                                    "passphrase)");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return refused("key", tls.key,
                   "it does not match the certificate: " + openssl_errors());
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) !=
      1)
    return refused("ca_file", tls.ca_file, openssl_errors());
  // Peers check this host's certificate against the same CA: one that does
  // not chain to it would be refused by every door.
  STACK_OF(X509)* chain = nullptr; // the certificate file's intermediates
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check{
      X509_STORE_CTX_new(), &X509_STORE_CTX_free};
  if (!check ||
      X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx.get()),
                          SSL_CTX_get0_certificate(ctx.get()), chain) != 1)
    return {errc::io,
            "OpenSSL could not check the certificate: " + openssl_errors()};
  if (X509_verify_cert(check.get()) != 1)
    return refused(
        "certificate", tls.certificate,
        fmt::format("it does not chain to ca_file '{}' ({}), so other doors "
                    "would refuse it",
                    tls.ca_file,
                    X509_verify_cert_error_string(
                        X509_STORE_CTX_get_error(check.get()))));
  return {};
}

} // namespace perdure::cluster
