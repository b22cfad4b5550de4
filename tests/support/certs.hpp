#ifndef FANOUT_TESTS_SUPPORT_CERTS_HPP
#define FANOUT_TESTS_SUPPORT_CERTS_HPP

// Test certificates made at run time with the OpenSSL API: nothing downloaded, nothing private
// committed. One CA, and certificates for the scenarios the TLS tests need.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

namespace fanout::test {

struct cert_pair {
  std::string cert_pem;
  std::string key_pem;
};

struct test_pki {
  cert_pair ca;           ///< the test CA (trusted through `ca_file`)
  cert_pair server;       ///< by the CA, for localhost, 127.0.0.1 and ::1
  cert_pair wrong_host;   ///< by the CA, for wrong.example only
  cert_pair self_signed;  ///< self-signed, for localhost and 127.0.0.1
  cert_pair expired;      ///< by the CA, for localhost and 127.0.0.1, expired a year ago
  std::string ca_file;    ///< the CA in a PEM file
};

namespace detail {

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate generation failed: ") + what);
}

inline std::string to_pem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

inline std::string to_pem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// Makes a certificate for `key`, signed by (issuer, issuer_key) or self-signed when null.
inline X509* make_cert(EVP_PKEY* key, const char* cn, const char* san, X509* issuer,
                       EVP_PKEY* issuer_key, long not_before, long not_after, bool ca,
                       long serial) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fanout tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : x;
  if (ca) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, signer, NID_ext_key_usage, "serverAuth");
  }
  if (san) add_ext(x, signer, NID_subject_alt_name, san);
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  check(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "sign");
  return x;
}

inline test_pki generate() {
  test_pki p;
  constexpr long day = 24 * 3600;
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* key = EVP_EC_gen("P-256");
  check(ca_key && key, "key");
  X509* ca =
      make_cert(ca_key, "fanout test CA", nullptr, nullptr, nullptr, -day, 3650 * day, true, 1);
  char const* local = "DNS:localhost,IP:127.0.0.1,IP:::1";
  X509* server = make_cert(key, "localhost", local, ca, ca_key, -day, 3650 * day, false, 2);
  X509* wrong =
      make_cert(key, "wrong.example", "DNS:wrong.example", ca, ca_key, -day, 3650 * day, false, 3);
  X509* self = make_cert(key, "localhost", "DNS:localhost,IP:127.0.0.1", nullptr, nullptr, -day,
                         3650 * day, false, 4);
  X509* expired = make_cert(key, "localhost", local, ca, ca_key, -730 * day, -365 * day, false, 5);
  std::string const key_pem = to_pem(key);
  p.ca = {to_pem(ca), to_pem(ca_key)};
  p.server = {to_pem(server), key_pem};
  p.wrong_host = {to_pem(wrong), key_pem};
  p.self_signed = {to_pem(self), key_pem};
  p.expired = {to_pem(expired), key_pem};
  for (X509* x : {ca, server, wrong, self, expired}) X509_free(x);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);

  p.ca_file = "/tmp/fanout-test-ca-" + std::to_string(::getpid()) + ".pem";
  std::ofstream(p.ca_file) << p.ca.cert_pem;
  return p;
}

struct pki_holder {
  test_pki pki = generate();
  ~pki_holder() { std::remove(pki.ca_file.c_str()); }
};

}  // namespace detail

/// The process's test PKI, generated on first use.
inline const test_pki& pki() {
  static detail::pki_holder holder;
  return holder.pki;
}

}  // namespace fanout::test

#endif
