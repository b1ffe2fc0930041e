// libFuzzer target over the TLS accept path of Kaffa's listeners: the server side as a
// connection sets it up (net::TlsContext::create with the options a listener uses, client
// certificates requested and checked against a CA, then TlsContext::new_session), with the input
// as the bytes a client sends, delivered through memory BIOs in pieces whose sizes the first input
// byte picks. The session is driven as Connection drives it: SSL_accept until it wants more bytes
// than there are, then SSL_read, and peer_subject() once established. Hostile bytes must end in a
// clean handshake failure: no out-of-bounds access (ASan), no undefined behaviour (UBSan), no
// leak. (A random client cannot complete a handshake, so this covers ClientHello parsing,
// extensions, alerts and record framing before the keys are agreed.)
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "net/tls.h"

namespace {

std::string pem_of(int (*write)(BIO*, void*), void* object) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio, object);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

int write_key(BIO* bio, void* key) {
  return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(key), nullptr, nullptr, 0, nullptr,
                                  nullptr);
}

int write_cert(BIO* bio, void* cert) {
  return PEM_write_bio_X509(bio, static_cast<X509*>(cert));
}

// A self-signed P-256 certificate for "localhost", made once per process.
std::shared_ptr<const kaffa::net::TlsContext> make_context() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  kaffa::net::TlsOptions o;
  o.key_pem = pem_of(write_key, key);
  o.cert_chain_pem = pem_of(write_cert, cert);
  o.trust_pem = o.cert_chain_pem;
  o.client_auth = kaffa::net::ClientAuth::requested;
  X509_free(cert);
  EVP_PKEY_free(key);
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
