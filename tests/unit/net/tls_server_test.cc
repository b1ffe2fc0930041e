// net::Server on a TLS listener over real loopback sockets: framing, ordering and file splices
// through OpenSSL, the handshake timeout, client certificate subjects, and context replacement.
// The client side is a blocking OpenSSL client on a plain socket.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "common/tls_test_cert.h"
#include "net/server.h"
#include "net/tls.h"
#include "test_client.h"

namespace kaffa::net {
namespace {

using kaffa::testing::self_signed_certificate;
using kaffa::testing::TestCertificate;
using testing::Client;
using testing::FunctionHandler;
using testing::response;
using testing::RunningServer;

std::shared_ptr<const TlsContext> server_context(const TestCertificate& cert,
                                                 ClientAuth auth = ClientAuth::none,
                                                 const std::string& trust = {}) {
  TlsOptions o;
  o.key_pem = cert.key_pem;
  o.cert_chain_pem = cert.cert_pem;
  o.client_auth = auth;
  o.trust_pem = trust;
  TlsError error;
  auto ctx = TlsContext::create(o, &error);
  EXPECT_TRUE(ctx) << error.field << ": " << error.message;
  return ctx;
}

ServerConfig tls_config(std::shared_ptr<TlsContextSlot> slot) {
  ServerConfig cfg;
  cfg.listeners.push_back(ListenerConfig{"SSL", "127.0.0.1", 0, std::move(slot)});
  cfg.threads = 2;
  return cfg;
}

// A TLS client over the blocking test socket: trusts `ca_pem`, optionally presents a certificate.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca_pem, const TestCertificate* own = nullptr)
      : socket_(port), ctx_(SSL_CTX_new(TLS_client_method())) {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (own != nullptr) {
      BIO* k = BIO_new_mem_buf(own->key_pem.data(), static_cast<int>(own->key_pem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
      BIO* c = BIO_new_mem_buf(own->cert_pem.data(), static_cast<int>(own->cert_pem.size()));
      X509* cert = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
      SSL_CTX_use_certificate(ctx_, cert);
      SSL_CTX_use_PrivateKey(ctx_, key);
      X509_free(cert);
      EVP_PKEY_free(key);
      BIO_free(k);
      BIO_free(c);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, socket_.fd());
    connected_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return connected_; }
  std::string server_subject() {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return {};
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    return buf;
  }
  bool send_raw(const std::string& bytes) {
    size_t written = 0;
    return SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) == 1;
  }
  bool send_frame(const std::string& payload) { return send_raw(testing::framed(payload)); }
  std::optional<std::string> read_exact(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      size_t r = 0;
      if (SSL_read_ex(ssl_, out.data() + got, n - got, &r) != 1) return std::nullopt;
      got += r;
    }
    return out;
  }
  std::optional<std::string> read_frame() {
    auto head = read_exact(4);
    if (!head) return std::nullopt;
    auto* p = reinterpret_cast<const uint8_t*>(head->data());
    return read_exact((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                      p[3]);
  }

 private:
  Client socket_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

FunctionHandler::Fn echo() {
  return [](const ConnectionInfo&, RequestFrame frame, Completion done) {
    done.send(response(frame.bytes()));
  };
}

TEST(TlsServerTest, EchoAndPipelinedResponsesInOrder) {
  const auto cert = self_signed_certificate("localhost");
  FunctionHandler handler(echo());
  RunningServer server(tls_config(std::make_shared<TlsContextSlot>(server_context(cert))), handler);
  TlsClient client(server.port(), cert.cert_pem);
  ASSERT_TRUE(client.connected());
  std::string big(300000, 'x');  // larger than the read-ahead buffer and a TLS record
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client.send_frame(big));
  EXPECT_EQ(client.read_frame(), big);
  // More than max_inflight_per_connection in one write: back-pressure, then in order.
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += testing::framed("r" + std::to_string(i));
  ASSERT_TRUE(client.send_raw(burst));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(client.read_frame(), "r" + std::to_string(i));
  EXPECT_EQ(server.stats().requests.load(), 201u);
}

TEST(TlsServerTest, FileSplicesAreReadAndEncryptedByteExact) {
  testing::SpliceSource source(size_t{3} << 20, 7);
  ASSERT_TRUE(source.ok());
  const std::string expected = source.expected_payload();
  FunctionHandler handler(
      [&](const ConnectionInfo&, RequestFrame, Completion done) { done.send(source.response()); });
  const auto cert = self_signed_certificate("localhost");
  RunningServer server(tls_config(std::make_shared<TlsContextSlot>(server_context(cert))), handler);
  TlsClient client(server.port(), cert.cert_pem);
  ASSERT_TRUE(client.send_frame("fetch"));
  auto got = client.read_frame();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == expected);
  EXPECT_EQ(testing::counter_once(server.stats().bytes_out, 4 + expected.size()),
            4 + expected.size());  // plaintext bytes
}

TEST(TlsServerTest, StalledOrGarbageHandshakeClosesOnlyThatConnection) {
  const auto cert = self_signed_certificate("localhost");
  FunctionHandler handler(echo());
  auto cfg = tls_config(std::make_shared<TlsContextSlot>(server_context(cert)));
  cfg.tls_handshake_timeout = std::chrono::milliseconds(200);
  RunningServer server(std::move(cfg), handler);
  Client silent(server.port());
  EXPECT_TRUE(silent.closed_by_peer());  // after the handshake timeout
  Client plaintext(server.port());
  ASSERT_TRUE(plaintext.send_frame("not a ClientHello"));
  EXPECT_FALSE(plaintext.read_exact(4096).has_value());  // perhaps an alert, then EOF
  EXPECT_GE(server.stats().tls_handshakes_failed.load(), 2u);
  TlsClient client(server.port(), cert.cert_pem);
  ASSERT_TRUE(client.send_frame("still serving"));
  EXPECT_EQ(client.read_frame(), "still serving");
}

TEST(TlsServerTest, ClientCertificateSubjectReachesTheHandler) {
  const auto server_cert = self_signed_certificate("localhost");
  const auto alice = self_signed_certificate("alice", 2);
  const auto stranger = self_signed_certificate("stranger", 3);
  FunctionHandler handler([](const ConnectionInfo& conn, RequestFrame, Completion done) {
    done.send(response(conn.tls_peer_subject));
  });
  auto ctx = server_context(server_cert, ClientAuth::required, alice.cert_pem);
  RunningServer server(tls_config(std::make_shared<TlsContextSlot>(ctx)), handler);
  TlsClient client(server.port(), server_cert.cert_pem, &alice);
  ASSERT_TRUE(client.send_frame("who"));
  EXPECT_EQ(client.read_frame(), "CN=alice,O=Acme");
  // Without a certificate, or with one the trust store does not know: no session.
  TlsClient anonymous(server.port(), server_cert.cert_pem);
  EXPECT_FALSE(anonymous.send_frame("who") && anonymous.read_frame().has_value());
  TlsClient untrusted(server.port(), server_cert.cert_pem, &stranger);
  EXPECT_FALSE(untrusted.send_frame("who") && untrusted.read_frame().has_value());
}

TEST(TlsServerTest, ReplacedContextServesNewConnectionsOnly) {
  const auto first = self_signed_certificate("first", 10);
  const auto second = self_signed_certificate("second", 11);
  FunctionHandler handler(echo());
  auto slot = std::make_shared<TlsContextSlot>(server_context(first));
  RunningServer server(tls_config(slot), handler);
  TlsClient old_client(server.port(), first.cert_pem);
  ASSERT_TRUE(old_client.connected());
  EXPECT_EQ(old_client.server_subject(), "/O=Acme/CN=first");
  slot->replace(server_context(second));
  TlsClient new_client(server.port(), second.cert_pem);
  ASSERT_TRUE(new_client.connected());
  EXPECT_EQ(new_client.server_subject(), "/O=Acme/CN=second");
  ASSERT_TRUE(old_client.send_frame("old"));
  EXPECT_EQ(old_client.read_frame(), "old");
  ASSERT_TRUE(new_client.send_frame("new"));
  EXPECT_EQ(new_client.read_frame(), "new");
}

TEST(TlsContextTest, RefusesBadMaterialNamingTheField) {
  const auto cert = self_signed_certificate("localhost");
  const auto other = self_signed_certificate("other");
  auto field_of = [](TlsOptions o) {
    TlsError e;
    EXPECT_FALSE(TlsContext::create(o, &e));
    return e.field;
  };
  TlsOptions o;
  o.key_pem = cert.key_pem;
  o.cert_chain_pem = cert.cert_pem;
  const std::pair<std::function<void(TlsOptions&)>, const char*> cases[] = {
      {[](TlsOptions& x) { x.key_pem = "nope"; }, "key"},
      {[](TlsOptions& x) { x.cert_chain_pem = ""; }, "cert_chain"},
      {[&](TlsOptions& x) { x.key_pem = other.key_pem; }, "key"},
      {[](TlsOptions& x) { x.trust_pem = "garbage"; }, "trust"},
      {[](TlsOptions& x) { x.protocols = {"SSLv3"}; }, "protocols"},
      {[](TlsOptions& x) { x.cipher_suites = {"NOPE"}; }, "cipher_suites"}};
  for (const auto& [mutate, field] : cases) {
    auto x = o;
    mutate(x);
    EXPECT_EQ(field_of(x), field);
  }
  o.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"};
  TlsError e;
  auto ok = TlsContext::create(o, &e);
  ASSERT_TRUE(ok) << e.message;
  EXPECT_EQ(ok->subject(), "CN=localhost,O=Acme");
  EXPECT_EQ(ok->serial(), "01");
}

}  // namespace
}  // namespace kaffa::net
