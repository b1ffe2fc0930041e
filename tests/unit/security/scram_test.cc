#include "security/scram.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#include <fstream>

#include "base/base64.h"

namespace kaffa::security {
namespace {

using State = SaslStep::State;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kaffa-scram-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::shared_ptr<ScramCredentialStore> store_with(const std::filesystem::path& dir,
                                                 std::string_view mech, const std::string& user,
                                                 const std::string& password,
                                                 const std::string& salt, int32_t iterations) {
  auto store = std::make_shared<ScramCredentialStore>(ScramCredentialStore::default_path(dir));
  std::string error;
  EXPECT_TRUE(store->load(&error)) << error;
  const auto salted = scram_salted_password(mech, password, salt, iterations);
  EXPECT_TRUE(store->apply(
      {{user, std::string(mech), scram_credential(mech, salt, salted, iterations)}}, &error))
      << error;
  return store;
}

ScramLookup lookup(std::shared_ptr<ScramCredentialStore> store) {
  return [store](std::string_view user, std::string_view mech) { return store->find(user, mech); };
}

// RFC 7677 section 3: the SCRAM-SHA-256 example exchange, byte for byte.
TEST(Scram, Rfc7677Sha256Example) {
  TempDir dir;
  auto store = store_with(dir.path(), kScramSha256, "user", "pencil",
                          *base64::decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  auto m = make_scram(kScramSha256, lookup(store), [] { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"; });
  auto first = m->step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_EQ(first.state, State::challenge) << first.detail;
  EXPECT_EQ(first.token,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
            "i=4096");
  auto final = m->step(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_EQ(final.state, State::done) << final.detail;
  EXPECT_EQ(final.token, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  EXPECT_EQ(final.principal, "User:user");
}

std::string hmac(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

// A client of our own for SHA-512: the final message for `password`.
std::string client_final(std::string_view mech, const std::string& client_first_bare,
                         const std::string& server_first, const std::string& password) {
  const EVP_MD* md = mech == kScramSha512 ? EVP_sha512() : EVP_sha256();
  const auto nonce = server_first.substr(2, server_first.find(',') - 2);
  const auto s_at = server_first.find(",s=") + 3;
  const auto salt = *base64::decode(server_first.substr(s_at, server_first.find(",i=") - s_at));
  const int iterations = std::stoi(server_first.substr(server_first.find(",i=") + 3));
  const auto salted = scram_salted_password(mech, password, salt, iterations);
  const auto client_key = hmac(md, salted, "Client Key");
  unsigned char stored[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(client_key.data(), client_key.size(), stored, &n, md, nullptr);
  const std::string without_proof = "c=biws,r=" + nonce;
  const auto signature = hmac(md, std::string(reinterpret_cast<char*>(stored), n),
                              client_first_bare + "," + server_first + "," + without_proof);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] ^= signature[i];
  return without_proof + ",p=" + base64::encode(proof);
}

TEST(Scram, Sha512RoundTripAndRefusals) {
  TempDir dir;
  auto store = store_with(dir.path(), kScramSha512, "al,ice", "s3cret", "saltsaltsalt", 8192);
  auto attempt = [&](const std::string& user, const std::string& password) {
    auto m = make_scram(kScramSha512, lookup(store));
    const std::string bare = "n=" + user + ",r=clientnonce";
    auto first = m->step("n,," + bare);
    EXPECT_EQ(first.state, State::challenge);
    return m->step(client_final(kScramSha512, bare, first.token, password));
  };
  auto ok = attempt("al=2Cice", "s3cret");  // RFC 5802 escaping of ','
  EXPECT_EQ(ok.state, State::done) << ok.detail;
  EXPECT_EQ(ok.principal, "User:al,ice");
  const auto wrong = attempt("al=2Cice", "S3cret");
  const auto unknown = attempt("bob", "s3cret");
  EXPECT_EQ(wrong.state, State::failed);
  EXPECT_EQ(unknown.state, State::failed);
  EXPECT_EQ(wrong.error, unknown.error);
  // The unknown user sees the same shape of challenge: a salt and the minimum iterations.
  auto m = make_scram(kScramSha512, lookup(store));
  const auto first = m->step("n,,n=bob,r=abc");
  EXPECT_NE(first.token.find(",s="), std::string::npos);
  EXPECT_NE(first.token.find(",i=4096"), std::string::npos);
}

TEST(Scram, MalformedMessagesFail) {
  TempDir dir;
  auto store = store_with(dir.path(), kScramSha256, "u", "p", "salt", 4096);
  for (const char* first : {"", "n", "n,,", "p=tls,,n=u,r=x", "n,,r=x,n=u", "n,,n=u",
                            "n,,n=u,r=", "n,a=other,n=u,r=x", "n,,n=u=ZZ,r=x"}) {
    EXPECT_EQ(make_scram(kScramSha256, lookup(store))->step(first).state, State::failed) << first;
  }
  auto m = make_scram(kScramSha256, lookup(store), [] { return "S"; });
  ASSERT_EQ(m->step("n,,n=u,r=C").state, State::challenge);
  EXPECT_EQ(m->step("c=biws,r=CX,p=AAAA").state, State::failed);  // nonce changed
  auto m2 = make_scram(kScramSha256, lookup(store), [] { return "S"; });
  ASSERT_EQ(m2->step("n,,n=u,r=C").state, State::challenge);
  EXPECT_EQ(m2->step("c=biws,r=CS,p=!!notbase64").state, State::failed);
  EXPECT_EQ(m2->step("anything").state, State::failed);  // over
}

TEST(ScramStore, SurvivesReloadAndRejectsDamage) {
  TempDir dir;
  auto store = store_with(dir.path(), kScramSha256, "user one", "pw", "salt", 4096);
  std::string error;
  ASSERT_TRUE(store->apply(
      {{"u2", std::string(kScramSha512), scram_credential(kScramSha512, "s", "x", 5000)}}, &error));
  ScramCredentialStore again(ScramCredentialStore::default_path(dir.path()));
  ASSERT_TRUE(again.load(&error)) << error;
  auto d = again.describe();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d["u2"], (std::vector<std::pair<std::string, int32_t>>{{"SCRAM-SHA-512", 5000}}));
  EXPECT_EQ(again.find("user one", kScramSha256)->stored_key,
            store->find("user one", kScramSha256)->stored_key);
  ASSERT_TRUE(again.apply({{"u2", std::string(kScramSha512), std::nullopt}}, &error));
  EXPECT_FALSE(again.find("u2", kScramSha512));
  std::ofstream(ScramCredentialStore::default_path(dir.path()), std::ios::app) << "junk\n";
  ScramCredentialStore damaged(ScramCredentialStore::default_path(dir.path()));
  EXPECT_FALSE(damaged.load(&error));
  EXPECT_NE(error.find("damaged"), std::string::npos);
}

// The cluster's metadata store holds the same text; a set it gives replaces the store's users
// without a file, and a change that changes nothing writes nothing.
TEST(ScramStore, TextRoundTripsAndReplaceWritesNoFile) {
  TempDir dir;
  ScramUsers users;
  users["user one"]["SCRAM-SHA-256"] = scram_credential(kScramSha256, "salt\n", "x", 4096);
  users["u2"]["SCRAM-SHA-512"] = scram_credential(kScramSha512, "s", "y", 8192);
  const auto text = encode_scram_users(users);
  std::string error;
  auto back = decode_scram_users(text, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(encode_scram_users(*back), text);
  EXPECT_FALSE(decode_scram_users(text.substr(0, text.size() - 1), &error));
  EXPECT_FALSE(decode_scram_users("kaffa-scram 1\n2\n", &error));

  ScramCredentialStore store(ScramCredentialStore::default_path(dir.path()));
  store.replace(*back);
  EXPECT_EQ(store.find("user one", kScramSha256)->salt, "salt\n");
  EXPECT_EQ(store.find("u2", kScramSha512)->iterations, 8192);
  ASSERT_TRUE(store.update([](ScramUsers&) { return false; }, &error)) << error;
  EXPECT_FALSE(std::filesystem::exists(ScramCredentialStore::default_path(dir.path())));
  ASSERT_TRUE(store.update(
      [](ScramUsers& u) {
        u.erase("u2");
        return true;
      },
      &error))
      << error;
  EXPECT_FALSE(store.find("u2", kScramSha512));
  ScramCredentialStore again(ScramCredentialStore::default_path(dir.path()));
  ASSERT_TRUE(again.load(&error)) << error;
  EXPECT_TRUE(again.find("user one", kScramSha256));
  EXPECT_FALSE(again.find("u2", kScramSha512));
}

// The client side of RFC 7677's example, byte for byte (our client, the RFC's server).
TEST(ScramClient, Rfc7677Sha256Example) {
  auto c = make_sasl_client(kScramSha256, "user", "pencil", [] { return "rOprNGfwEbeRWgbNEkqO"; });
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final = c->step(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_EQ(final.state, SaslClientStep::State::send) << final.error;
  EXPECT_EQ(final.token,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(c->step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").state,
            SaslClientStep::State::done);
}

// Our client against our server (SHA-512, a name that needs escaping): done on both sides; a
// wrong password fails at the server; a server that does not know the password, a weaker
// iteration count, a foreign nonce or a server error fail at the client.
TEST(ScramClient, AgainstTheServerAndAgainstImpostors) {
  using C = SaslClientStep::State;
  TempDir dir;
  auto store = store_with(dir.path(), kScramSha512, "bro,ker=1", "pw", "salty", 4096);
  auto server = make_scram(kScramSha512, lookup(store));
  auto client = make_sasl_client(kScramSha512, "bro,ker=1", "pw");
  auto s1 = server->step(client->first());
  ASSERT_EQ(s1.state, State::challenge) << s1.detail;
  auto c1 = client->step(s1.token);
  ASSERT_EQ(c1.state, C::send) << c1.error;
  auto s2 = server->step(c1.token);
  ASSERT_EQ(s2.state, State::done) << s2.detail;
  EXPECT_EQ(s2.principal, "User:bro,ker=1");
  EXPECT_EQ(client->step(s2.token).state, C::done);

  auto wrong = make_sasl_client(kScramSha512, "bro,ker=1", "not-pw");
  auto other = make_scram(kScramSha512, lookup(store));
  auto w1 = other->step(wrong->first());
  EXPECT_EQ(other->step(wrong->step(w1.token).token).state, State::failed);

  auto fooled = make_sasl_client(kScramSha512, "bro,ker=1", "pw");
  auto third = make_scram(kScramSha512, lookup(store));
  auto f1 = third->step(fooled->first());
  ASSERT_EQ(fooled->step(f1.token).state, C::send);
  EXPECT_EQ(fooled->step("v=" + base64::encode(std::string(64, 'x'))).state, C::failed);

  // A SHA-256 client (nonce "abc") that has sent client-first, answered with `server_first`.
  auto answer = [](std::string_view server_first) {
    auto c = make_sasl_client(kScramSha256, "u", "p", [] { return "abc"; });
    c->first();
    return std::make_pair(c->step(server_first).state, std::move(c));
  };
  EXPECT_EQ(answer("r=abcdef,s=c2FsdA==,i=1000").first, C::failed);        // too few iterations
  EXPECT_EQ(answer("r=abcdef,s=c2FsdA==,i=2000000000").first, C::failed);  // too many
  EXPECT_EQ(answer("r=xyzdef,s=c2FsdA==,i=4096").first, C::failed);        // a foreign nonce
  auto [state, refused] = answer("r=abcdef,s=c2FsdA==,i=4096");
  ASSERT_EQ(state, C::send);
  const auto e = refused->step("e=invalid-proof");
  EXPECT_EQ(e.state, C::failed);
  EXPECT_NE(e.error.find("invalid-proof"), std::string::npos);
  EXPECT_FALSE(make_sasl_client("GSSAPI", "u", "p"));
}

}  // namespace
}  // namespace kaffa::security
