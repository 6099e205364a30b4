// SPDX-License-Identifier: Apache-2.0
#pragma once
// Certificates for the doors' mutual TLS tests (engine_host_options::tls),
// made with the openssl program (PERDURE_OPENSSL, a path) in a test's
// directory: a CA, and certificates it signs.

#include "perdure/cluster/engine_host.hpp"
#include "subprocess.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <string>
#include <vector>

namespace perdure::test {

// Runs the openssl program with `args`; false when it failed (its output
// in dir/openssl.err).
inline bool openssl(const std::filesystem::path& dir,
                    std::vector<std::string> args) {
  args.insert(args.begin(), PERDURE_OPENSSL);
  subprocess_options o;
  o.stdout_file = (dir / "openssl.out").string();
  o.stderr_file = (dir / "openssl.err").string();
  subprocess p{args, o};
  return p.wait() == 0;
}

// A CA "NAME-ca" in dir, and certificates signed by it.
struct test_ca {
  std::filesystem::path dir;
  std::string name;

  std::string at(const std::string& file) const {
    return (dir / file).string();
  }
  test_ca(std::filesystem::path d, std::string n)
      : dir(std::move(d))
      , name(std::move(n)) {
    REQUIRE(openssl(dir, {"req", "-x509", "-newkey", "rsa:2048", "-nodes",
                          "-keyout", at(name + "-ca.key"), "-out", ca_file(),
                          "-days", "2", "-subj", "/CN=" + name + "-ca"}));
  }
  std::string ca_file() const {
    return at(name + "-ca.pem");
  }
  // Certificate NODE.pem with key NODE.key (encrypted with `pass` when
  // not empty), signed by this CA.
  cluster::door_tls issue(const std::string& node,
                          const std::string& pass = {}) {
    std::vector<std::string> req{
        "req",  "-newkey",         "rsa:2048", "-keyout",    at(node + ".key"),
        "-out", at(node + ".csr"), "-subj",    "/CN=" + node};
    if (pass.empty())
      req.push_back("-nodes");
    else
      req.insert(req.end(), {"-passout", "pass:" + pass});
    REQUIRE(openssl(dir, req));
    REQUIRE(openssl(dir,
                    {"x509", "-req", "-in", at(node + ".csr"), "-CA", ca_file(),
                     "-CAkey", at(name + "-ca.key"), "-CAcreateserial", "-out",
                     at(node + ".pem"), "-days", "2"}));
    return {at(node + ".pem"), at(node + ".key"), pass, ca_file()};
  }
};

} // namespace perdure::test
