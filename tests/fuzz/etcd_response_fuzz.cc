// libFuzzer target over what an etcd endpoint (or anything listening on its port) can send the
// etcd client: the first input byte picks where the rest is split into two reads; the rest goes
// through the HTTP response parser (buffered, and streamed to a callback as a watch does), then
// the body through the JSON reader, the stream splitter and every gateway decoder. Nothing may
// read out of bounds (ASan), overflow (UBSan) or throw.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json_reader.h"
#include "cluster/etcd/http.h"
#include "cluster/etcd/kv.h"
#include "cluster/etcd/watch_message.h"

namespace {

using namespace kaffa;
using namespace kaffa::etcd;

void decode_all(std::string_view text) {
  auto v = json::parse(text);
  if (!v) return;
  (void)decode_range(*v);
  (void)decode_put(*v);
  (void)decode_delete(*v);
  (void)decode_txn(*v);
  (void)decode_kv(*v);
  (void)decode_watch_message(*v);
  (void)gateway_error(*v);
  (void)header_revision(*v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);

  HttpResponseParser buffered(1 << 20);
  buffered.feed(in.substr(0, split));
  buffered.feed(in.substr(split));
  buffered.finish();
  if (buffered.state() == HttpResponseParser::State::done) decode_all(buffered.body());

  // Streamed, as a watch consumes its answer: cut the body into concatenated JSON values.
  std::string pending;
  HttpResponseParser streamed(1 << 20, [&](std::string_view bytes) {
    pending.append(bytes);
    while (size_t len = json::complete_value_length(pending)) {
      decode_all(std::string_view(pending).substr(0, len));
      pending.erase(0, len);
    }
  });
  streamed.feed(in.substr(0, split));
  streamed.feed(in.substr(split));

  // The input as JSON directly, too.
  decode_all(in);
  return 0;
}
