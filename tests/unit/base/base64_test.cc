#include "base/base64.h"

#include <gtest/gtest.h>

namespace kaffa::base64 {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(encode(plain), coded);
    EXPECT_EQ(decode(coded), plain);
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 7) {
    EXPECT_EQ(decode(encode(all.substr(0, n))), all.substr(0, n));
  }
}

TEST(Base64, RejectsMalformedInput) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm=v"}) {
    EXPECT_FALSE(decode(bad)) << bad;
  }
}

TEST(Base64Url, RoundTripsWithoutPaddingAndRefusesTheStandardAlphabet) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= 40; ++n) {
    const std::string url = encode_url(all.substr(200, n));
    EXPECT_EQ(url.find_first_of("+/="), std::string::npos) << url;
    EXPECT_EQ(decode_url(url), all.substr(200, n));
  }
  EXPECT_EQ(encode_url("\xfb\xff"), "-_8");
  EXPECT_EQ(decode_url("-_8="), "\xfb\xff");  // padding taken too
  for (const char* bad : {"a+b/", "abcde", "ab!c", "Zm9v=A"}) EXPECT_FALSE(decode_url(bad)) << bad;
}

}  // namespace
}  // namespace kaffa::base64
