#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "net/tls.h"

namespace kaffa::net {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Every certificate of a PEM text, in order (other PEM blocks, such as a key, are skipped).
std::vector<X509Ptr> read_certificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = memory_bio(pem);
  while (bio) {
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    out.emplace_back(x);
  }
  ERR_clear_error();  // the read past the last certificate
  return out;
}

int password_callback(char* buf, int size, int /*rwflag*/, void* user) {
  const auto* password = static_cast<const std::string*>(user);
  if (password->empty() || password->size() > static_cast<size_t>(size)) return 0;
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string serial_text(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return {};
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

int protocol_version(const std::string& name) {
  if (name == "TLSv1") return TLS1_VERSION;
  if (name == "TLSv1.1") return TLS1_1_VERSION;
  if (name == "TLSv1.2") return TLS1_2_VERSION;
  if (name == "TLSv1.3") return TLS1_3_VERSION;
  return 0;
}

bool is_tls13_suite(const std::string& name) {
  static const char* const k13[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                    "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                    "TLS_AES_128_CCM_8_SHA256"};
  return std::find(std::begin(k13), std::end(k13), name) != std::end(k13);
}

// TLS 1.2 suites by IANA or OpenSSL name -> OpenSSL's cipher list; TLS 1.3 suites separately.
bool cipher_lists(const std::vector<std::string>& suites, std::string& tls12, std::string& tls13,
                  std::string& unknown) {
  STACK_OF(SSL_CIPHER)* all = nullptr;
  SSL_CTX* probe = SSL_CTX_new(TLS_server_method());
  if (probe != nullptr && SSL_CTX_set_cipher_list(probe, "ALL:COMPLEMENTOFALL") == 1) {
    all = SSL_CTX_get_ciphers(probe);
  }
  bool ok = true;
  for (const auto& s : suites) {
    if (is_tls13_suite(s)) {
      tls13 += (tls13.empty() ? "" : ":") + s;
      continue;
    }
    const char* found = nullptr;
    for (int i = 0; all != nullptr && i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      const char* standard = SSL_CIPHER_standard_name(c);
      if (s == SSL_CIPHER_get_name(c) || (standard != nullptr && s == standard)) {
        found = SSL_CIPHER_get_name(c);
        break;
      }
    }
    if (found == nullptr) {
      unknown = s;
      ok = false;
      break;
    }
    if (!tls12.empty()) tls12 += ':';
    tls12 += found;
  }
  SSL_CTX_free(probe);
  return ok;
}

}  // namespace

std::string openssl_error(const char* fallback) {
  const unsigned long e = ERR_peek_error();
  std::string out = fallback;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(e);
    out = reason != nullptr ? reason : buf;
  }
  ERR_clear_error();
  return out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

namespace {

// Settings both sides share: the protocol range and the cipher suites. nullopt on success.
std::optional<TlsError> set_protocols(SSL_CTX* ctx, const TlsOptions& o) {
  int lo = 0;  // the lowest to the highest enabled version
  int hi = 0;
  for (const auto& p : o.protocols) {
    const int v = protocol_version(p);
    if (v == 0) return TlsError{"protocols", "unknown protocol '" + p + "'"};
    lo = lo == 0 ? v : std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo == 0) return TlsError{"protocols", "no protocol enabled"};
  if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 || SSL_CTX_set_max_proto_version(ctx, hi) != 1) {
    return TlsError{"protocols", openssl_error("protocol range refused")};
  }
  if (!o.cipher_suites.empty()) {
    std::string tls12, tls13, unknown;
    if (!cipher_lists(o.cipher_suites, tls12, tls13, unknown)) {
      return TlsError{"cipher_suites", "unknown cipher suite '" + unknown + "'"};
    }
    if (!tls12.empty() && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1) {
      return TlsError{"cipher_suites", openssl_error("no usable TLS 1.2 cipher suite")};
    }
    if (!tls13.empty() && SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1) {
      return TlsError{"cipher_suites", openssl_error("no usable TLS 1.3 cipher suite")};
    }
  }
  return std::nullopt;
}

// The private key and certificate chain; the first certificate's subject and serial go to *leaf.
std::optional<TlsError> use_key_and_chain(SSL_CTX* ctx, const TlsOptions& o, X509Ptr* leaf) {
  if (o.key_pem.empty()) return TlsError{"key", "no private key given"};
  std::string password = o.key_password;
  BioPtr key_bio = memory_bio(o.key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, password_callback, &password));
  if (!key) {
    const std::string why = openssl_error("no PEM private key found");
    if (o.key_pem.find("ENCRYPTED") != std::string::npos) {
      return TlsError{"key_password", "cannot decrypt the private key: " + why};
    }
    return TlsError{"key", "cannot read the private key: " + why};
  }
  auto chain = read_certificates(o.cert_chain_pem);
  if (chain.empty()) return TlsError{"cert_chain", "no PEM certificate found"};
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    return TlsError{"cert_chain", "certificate refused: " + openssl_error("unknown reason")};
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      return TlsError{"cert_chain",
                      "chain certificate refused: " + openssl_error("unknown reason")};
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return TlsError{"key",
                    "the private key does not match the certificate: " + openssl_error("mismatch")};
  }
  *leaf = std::move(chain.front());
  return std::nullopt;
}

// The CA certificates peers' certificates must chain to (also named to clients as acceptable
// issuers when `name_to_clients`).
std::optional<TlsError> add_trust(SSL_CTX* ctx, const std::string& pem, bool name_to_clients) {
  auto cas = read_certificates(pem);
  if (cas.empty()) return TlsError{"trust", "no PEM certificate found"};
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1 ||
        (name_to_clients && SSL_CTX_add_client_CA(ctx, ca.get()) != 1)) {
      return TlsError{"trust", "CA certificate refused: " + openssl_error("unknown reason")};
    }
  }
  return std::nullopt;
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::create(const TlsOptions& o, TlsError* error) {
  return build(o, false, false, error);
}

std::shared_ptr<const TlsContext> TlsContext::create_client(const TlsOptions& o,
                                                            bool verify_hostname, TlsError* error) {
  return build(o, true, verify_hostname, error);
}

std::shared_ptr<const TlsContext> TlsContext::build(const TlsOptions& o, bool client,
                                                    bool verify_hostname, TlsError* error) {
  auto fail = [&](TlsError e) {
    if (error != nullptr) *error = std::move(e);
    ERR_clear_error();
    return std::shared_ptr<const TlsContext>();
  };
  ERR_clear_error();
  std::shared_ptr<TlsContext> self(new TlsContext());
  self->ctx_ = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
  if (self->ctx_ == nullptr) return fail({"internal", openssl_error("cannot create an SSL_CTX")});
  SSL_CTX* ctx = self->ctx_;
  self->client_auth_ = o.client_auth;
  self->verify_hostname_ = verify_hostname;
  if (auto e = set_protocols(ctx, o)) return fail(std::move(*e));
  if (!client || !o.key_pem.empty()) {  // a client presents a certificate only when it has one
    X509Ptr leaf;
    if (auto e = use_key_and_chain(ctx, o, &leaf)) return fail(std::move(*e));
    self->subject_ = name_text(X509_get_subject_name(leaf.get()));
    self->serial_ = serial_text(leaf.get());
  }

  if (client) {
    // The server's certificate must chain to the truststore (else the system's CAs).
    if (!o.trust_pem.empty()) {
      if (auto e = add_trust(ctx, o.trust_pem, false)) return fail(std::move(*e));
    } else {
      SSL_CTX_set_default_verify_paths(ctx);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    ERR_clear_error();
    return self;
  }

  // Trust for client certificates.
  if (!o.trust_pem.empty()) {
    if (auto e = add_trust(ctx, o.trust_pem, true)) return fail(std::move(*e));
  } else if (o.client_auth != ClientAuth::none) {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  int verify = SSL_VERIFY_NONE;
  if (o.client_auth == ClientAuth::requested) verify = SSL_VERIFY_PEER;
  if (o.client_auth == ClientAuth::required) {
    verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, verify, nullptr);
  static const unsigned char kSessionContext[] = "kaffa";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);

  // A peer's EOF without close_notify is an ordinary end of stream (ZERO_RETURN); no
  // renegotiation; kernel TLS when the kernel offers it.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ENABLE_KTLS);
  // Idle connections give their record buffers back; a retried write may come from a buffer
  // that moved (the same bytes).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ERR_clear_error();
  return self;
}

ssl_st* TlsContext::new_client_session(const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  in6_addr ip6{};
  in_addr ip4{};
  const bool is_ip =
      inet_pton(AF_INET, host.c_str(), &ip4) == 1 || inet_pton(AF_INET6, host.c_str(), &ip6) == 1;
  bool ok = is_ip || SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;  // SNI: names only
  if (ok && verify_hostname_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
               : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
  }
  if (!ok) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

std::string handshake_error(ssl_st* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  return openssl_error("handshake failed");
}

ssl_st* TlsContext::new_session() const {
  return SSL_new(ctx_);
}

std::string peer_subject(ssl_st* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string out = name_text(X509_get_subject_name(cert));
  X509_free(cert);
  return out;
}

}  // namespace kaffa::net
