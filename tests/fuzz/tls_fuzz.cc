// libFuzzer target over the TLS accept path of Kaffa's listeners: the server side as a
// connection sets it up (net::TlsContext::create with the options a listener uses, client
// certificates requested and checked against a CA, then TlsContext::new_session), with the input
// as the bytes a client sends, delivered through memory BIOs in pieces whose sizes the first input
// byte picks. The session is driven as Connection drives it: SSL_accept until it wants more bytes
// than there are, then SSL_read, and peer_subject() once established. Hostile bytes must end in a
// clean handshake failure: no out-of-bounds access (ASan), no undefined behaviour (UBSan), no
// leak. (A random client cannot complete a handshake, so this covers ClientHello parsing,
// extensions, alerts and record framing before the keys are agreed.)
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "common/tls_test_cert.h"
#include "net/tls.h"

namespace {

// A self-signed certificate for "localhost", made once per process; client certificates are
// requested and checked against it.
std::shared_ptr<const kaffa::net::TlsContext> make_context() {
  const auto cert = kaffa::testing::self_signed_certificate("localhost");
  kaffa::net::TlsOptions o;
  o.key_pem = cert.key_pem;
  o.cert_chain_pem = cert.cert_pem;
  o.trust_pem = cert.cert_pem;
  o.client_auth = kaffa::net::ClientAuth::requested;
  kaffa::net::TlsError error;
  auto ctx = kaffa::net::TlsContext::create(o, &error);
  if (!ctx) abort();
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto ctx = make_context();
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] * 64u;  // 1 .. 16321 bytes per delivery
  ++data;
  --size;
  SSL* ssl = ctx->new_session();
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // the session owns both
  bool established = false;
  size_t pos = 0;
  for (;;) {
    if (!established) {
      const int r = SSL_accept(ssl);
      if (r == 1) {
        established = true;
        kaffa::net::peer_subject(ssl);
      } else {
        const int e = SSL_get_error(ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;  // handshake failed
      }
    }
    if (established) {
      uint8_t buf[4096];
      size_t got = 0;
      int r = 1;
      while (r == 1) r = SSL_read_ex(ssl, buf, sizeof buf, &got);
      if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) break;
    }
    BIO_reset(out);  // what the server sent the client
    if (pos >= size) break;
    const size_t n = std::min(piece, size - pos);
    BIO_write(in, data + pos, static_cast<int>(n));
    pos += n;
  }
  SSL_free(ssl);
  ERR_clear_error();
  return 0;
}
