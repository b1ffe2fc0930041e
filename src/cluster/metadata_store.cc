#include "cluster/metadata_store.h"

#include "base/file.h"
#include "protocol/messages/topics_snapshot.h"
#include "record/crc32c.h"
#include "storage/checkpoint_file.h"

namespace kaffa::cluster {
namespace {

constexpr char kMagic[4] = {'K', 'F', 'M', 'S'};
constexpr int16_t kVersion = 0;
constexpr size_t kPrefix = 4 + 2 + 4 + 4;

}  // namespace

std::filesystem::path metadata_snapshot_path(const std::filesystem::path& log_dir) {
  return log_dir / "__kaffa_metadata" / "topics.snapshot";
}

bool save_topics(const std::filesystem::path& file, const std::vector<TopicInfo>& topics,
                 std::string* error) {
  protocol::TopicsSnapshot snap;
  for (const auto& t : topics) {
    auto& s = snap.topics.emplace_back();
    s.name = t.name;
    s.topic_id = t.id;
    s.partitions = t.partitions;
    s.replication_factor = t.replication_factor;
    s.internal = t.internal;
    for (const auto& [k, v] : t.configs) s.configs.push_back({k, v, {}});
  }
  std::string body;
  protocol::Writer w(body);
  snap.encode(w, kVersion);
  std::string out;
  protocol::Writer h(out);
  h.raw(kMagic, 4);
  h.int16(kVersion);
  h.int32(static_cast<int32_t>(body.size()));
  h.uint32(record::crc32c(body.data(), body.size()));
  out += body;
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) {
    if (error) *error = "cannot create " + file.parent_path().string() + ": " + ec.message();
    return false;
  }
  return storage::write_file_atomically(file, out, error);
}

std::optional<std::vector<TopicInfo>> load_topics(const std::filesystem::path& file,
                                                  std::string* error) {
  std::vector<TopicInfo> topics;
  auto text = file::read_all(file);
  if (!text) {
    if (!std::filesystem::exists(file)) return topics;
    if (error) *error = "cannot read " + file.string();
    return std::nullopt;
  }
  const std::string data = std::move(*text);
  auto fail = [&](const std::string& why) -> std::optional<std::vector<TopicInfo>> {
    if (error) *error = file.string() + ": " + why;
    return std::nullopt;
  };
  if (data.size() < kPrefix || data.compare(0, 4, kMagic, 4) != 0) return fail("not a snapshot");
  protocol::Reader r(std::string_view(data).substr(4));
  const int16_t version = r.int16();
  const int32_t length = r.int32();
  const uint32_t crc = r.uint32();
  if (version != kVersion) return fail("unknown version " + std::to_string(version));
  if (length < 0 || static_cast<size_t>(length) != data.size() - kPrefix) {
    return fail("length does not match the file");
  }
  const std::string_view body = std::string_view(data).substr(kPrefix);
  if (record::crc32c(body.data(), body.size()) != crc) return fail("checksum mismatch");
  protocol::TopicsSnapshot snap;
  protocol::Reader br(body);
  if (!snap.decode(br, version) || br.remaining() != 0) return fail("malformed: " + br.error());
  for (auto& s : snap.topics) {
    TopicInfo t;
    t.name = std::move(s.name);
    t.id = s.topic_id;
    t.partitions = s.partitions;
    t.replication_factor = s.replication_factor;
    t.internal = s.internal;
    for (auto& c : s.configs) t.configs[c.name] = c.value;
    topics.push_back(std::move(t));
  }
  return topics;
}

}  // namespace kaffa::cluster
