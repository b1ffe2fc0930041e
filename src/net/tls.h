// TLS for Kafka listeners: a server-side OpenSSL context built from PEM material, and the slot a
// listener reads it from (replaced without a restart when certificates are reloaded); and the
// client side a broker uses to reach another broker's TLS listener (replica fetchers).
//
// Library kaffa_tls: OpenSSL only (no Asio, no logging), so that the TLS fuzzer links it alone.
// A TlsContext is immutable once built and may be used from any thread; connections hold a
// shared_ptr to the context they were accepted with, so replacing a slot's context leaves them
// untouched.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct ssl_ctx_st;  // SSL_CTX
struct ssl_st;      // SSL

namespace kaffa::net {

enum class ClientAuth { none, requested, required };  // ssl.client.auth

// What a context is built from: PEM text, never paths (the caller reads the files).
struct TlsOptions {
  std::string key_pem;         // the private key; encrypted when key_password is set
  std::string key_password;    // ssl.key.password
  std::string cert_chain_pem;  // the server certificate first, then its chain
  std::string trust_pem;       // CA certificates that client certificates must chain to
  ClientAuth client_auth = ClientAuth::none;
  std::vector<std::string> protocols{"TLSv1.2", "TLSv1.3"};  // ssl.enabled.protocols
  // ssl.cipher.suites: IANA names (Kafka's, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or
  // OpenSSL names; empty = OpenSSL's defaults.
  std::vector<std::string> cipher_suites;
};

// Which option was wrong (`field` is one of: key, key_password, cert_chain, trust, protocols,
// cipher_suites, internal) and why, with OpenSSL's reason when it has one.
struct TlsError {
  std::string field;
  std::string message;
};

class TlsContext {
 public:
  // Null on failure (`error` says why). Checks that the key matches the certificate.
  static std::shared_ptr<const TlsContext> create(const TlsOptions& options, TlsError* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Client side (a broker reaching another broker's TLS listener): the same options, where the
  // key and certificate chain are optional (presented when the server asks: ssl.client.auth) and
  // trust_pem is what the server's certificate must chain to (empty: the system's CAs).
  // verify_hostname (ssl.endpoint.identification.algorithm=https): the certificate must name the
  // host connected to (a DNS name or an IP address among its subject alternative names).
  static std::shared_ptr<const TlsContext> create_client(const TlsOptions& options,
                                                         bool verify_hostname, TlsError* error);

  // A new server-side session, ready for SSL_accept (the caller owns it: SSL_free). Sessions ask
  // for kernel TLS (SSL_OP_ENABLE_KTLS); whether the kernel took it shows after the handshake.
  ssl_st* new_session() const;
  // A new client session for `host` (server name indication; the name the certificate must
  // carry when verify_hostname), ready for SSL_connect (the caller owns it: SSL_free). Null on
  // failure.
  ssl_st* new_client_session(const std::string& host) const;
  ssl_ctx_st* native() const { return ctx_; }
  // The server certificate's subject (RFC 2253) and serial number (hex), for logs.
  const std::string& subject() const { return subject_; }
  const std::string& serial() const { return serial_; }
  ClientAuth client_auth() const { return client_auth_; }

 private:
  TlsContext() = default;
  static std::shared_ptr<const TlsContext> build(const TlsOptions& options, bool client,
                                                 bool verify_hostname, TlsError* error);
  ssl_ctx_st* ctx_ = nullptr;
  bool verify_hostname_ = false;  // client contexts
  std::string subject_;
  std::string serial_;
  ClientAuth client_auth_ = ClientAuth::none;
};

// A listener's current context. Thread-safe; new connections take current(), a reload calls
// replace(). Connections already established keep the context they started with.
class TlsContextSlot {
 public:
  explicit TlsContextSlot(std::shared_ptr<const TlsContext> ctx) : ctx_(std::move(ctx)) {}
  std::shared_ptr<const TlsContext> current() const {
    std::lock_guard lock(mu_);
    return ctx_;
  }
  void replace(std::shared_ptr<const TlsContext> ctx) {
    std::lock_guard lock(mu_);
    ctx_ = std::move(ctx);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContext> ctx_;
};

// After a handshake: the verified client certificate's subject in RFC 2253 form
// ("CN=alice,O=Acme"), or "" when the client sent none.
std::string peer_subject(ssl_st* ssl);
// Why a client's handshake failed: the certificate verification result when there is one (e.g.
// "certificate verify failed: Hostname mismatch"), else the oldest queued OpenSSL error.
std::string handshake_error(ssl_st* ssl);
// The oldest queued OpenSSL error as text (and clears the queue); `fallback` when there is none.
std::string openssl_error(const char* fallback);

}  // namespace kaffa::net
