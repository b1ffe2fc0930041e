// `kaffa produce TOPIC`: one record per input line (stdin or -f FILE), flushed at EOF.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

struct ProduceOpts {
  std::string topic;
  std::string file;
  std::string key_sep;
  std::vector<std::string> headers;
  std::string acks = "all";
  std::string compression = "none";
  int partition = -1;
};

struct Delivery {
  uint64_t ok = 0, failed = 0;
  std::string first_error;
};

void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  if (!m->err) {
    ++d->ok;
    return;
  }
  if (d->failed++ == 0) {
    d->first_error = std::string(rd_kafka_err2str(m->err)) + " (" + rd_kafka_err2name(m->err) + ")";
  }
}

// Fails fast on a topic that does not exist (and is not auto-created) or a partition beyond it,
// rather than after message.timeout.ms.
void check_target(Client& c, const ProduceOpts& o) {
  Metadata md = fetch_metadata(c, o.topic);
  const auto& t = require_topic(md.get(), o.topic);
  if (o.partition >= t.partition_cnt) {
    throw Failure(kExitKafka, "topic " + o.topic + " has " + std::to_string(t.partition_cnt) +
                                  " partitions; there is no partition " +
                                  std::to_string(o.partition));
  }
}

int produce(Globals& g, const ProduceOpts& o) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : o.headers) headers.push_back(split_kv(h, "-H"));
  FILE* in = stdin;
  if (!o.file.empty() && o.file != "-") {
    in = std::fopen(o.file.c_str(), "rb");
    if (!in) usage_error("cannot read " + o.file + ": " + std::strerror(errno));
  }
  Delivery d;
  rd_kafka_conf_t* conf =
      make_conf(g, {{"acks", o.acks == "-1" ? "all" : o.acks},
                    {"compression.codec", o.compression},
                    {"message.timeout.ms", std::to_string(std::max(g.timeout_ms, 1000))},
                    {"linger.ms", "5"}});
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, &d);
  Client c(g, RD_KAFKA_PRODUCER, conf);
  check_target(c, o);
  install_stop_signals();

  Progress progress("produced");
  char* line = nullptr;
  size_t cap = 0;
  uint64_t sent = 0;
  std::vector<rd_kafka_vu_t> vus;
  bool read_error = false;
  while (!stop_requested()) {
    ssize_t len = getline(&line, &cap, in);
    if (len < 0) {
      read_error = std::ferror(in) && errno != EINTR;
      break;
    }
    size_t n = static_cast<size_t>(len);
    if (n > 0 && line[n - 1] == '\n') --n;
    char* value = line;
    size_t value_len = n;
    vus.clear();
    vus.push_back({.vtype = RD_KAFKA_VTYPE_TOPIC, .u = {.cstr = o.topic.c_str()}});
    vus.push_back({.vtype = RD_KAFKA_VTYPE_PARTITION,
                   .u = {.i32 = o.partition >= 0 ? o.partition : RD_KAFKA_PARTITION_UA}});
    vus.push_back({.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u = {.i = RD_KAFKA_MSG_F_COPY}});
    if (!o.key_sep.empty()) {
      // A line without the separator is a record with a null key.
      if (auto* sep = static_cast<char*>(memmem(line, n, o.key_sep.data(), o.key_sep.size()))) {
        rd_kafka_vu_t k{.vtype = RD_KAFKA_VTYPE_KEY};
        k.u.mem = {line, static_cast<size_t>(sep - line)};
        vus.push_back(k);
        value = sep + o.key_sep.size();
        value_len = n - static_cast<size_t>(value - line);
      }
    }
    rd_kafka_vu_t v{.vtype = RD_KAFKA_VTYPE_VALUE};
    v.u.mem = {value, value_len};
    vus.push_back(v);
    for (const auto& [hk, hv] : headers) {
      rd_kafka_vu_t h{.vtype = RD_KAFKA_VTYPE_HEADER};
      h.u.header = {hk.c_str(), hv.data(), static_cast<ssize_t>(hv.size())};
      vus.push_back(h);
    }
    for (;;) {
      rd_kafka_error_t* err = rd_kafka_produceva(c.get(), vus.data(), vus.size());
      if (!err) break;
      auto code = rd_kafka_error_code(err);
      std::string msg = rd_kafka_error_string(err);
      rd_kafka_error_destroy(err);
      if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::free(line);
        kafka_error("produce to " + o.topic, code, msg.c_str());
      }
      rd_kafka_poll(c.get(), 50);  // the local queue is full: serve delivery reports
    }
    ++sent;
    rd_kafka_poll(c.get(), 0);
    progress.tick(d.ok);
  }
  std::free(line);
  if (in != stdin) std::fclose(in);
  while (rd_kafka_outq_len(c.get()) > 0) {
    rd_kafka_flush(c.get(), 200);
    progress.tick(d.ok);
  }
  progress.done(d.ok);
  if (g.json) {
    Json j;
    j.begin_object().key("topic").str(o.topic).key("records").num(static_cast<int64_t>(sent));
    j.key("delivered").num(static_cast<int64_t>(d.ok));
    j.key("failed").num(static_cast<int64_t>(d.failed)).end_object().print();
  }
  if (read_error) throw Failure(kExitKafka, "produce: error reading the input");
  if (d.failed > 0) {
    throw Failure(kExitKafka, "produce to " + o.topic + ": " + std::to_string(d.failed) + " of " +
                                  std::to_string(sent) + " records failed: " + d.first_error);
  }
  return stop_requested() ? 130 : 0;
}

}  // namespace

void add_produce_command(CLI::App& app, Globals& g) {
  auto o = std::make_shared<ProduceOpts>();
  auto* p = app.add_subcommand("produce", "Produce one record per input line (stdin or -f)");
  p->add_option("topic", o->topic, "Topic")->required();
  p->add_option("-f,--file", o->file, "Read lines from FILE instead of stdin")
      ->check(CLI::ExistingFile | CLI::IsMember({"-"}));
  p->add_option("-k,--key-separator", o->key_sep,
                "Split each line at the first SEP into key and value");
  p->add_option("-H,--header", o->headers, "Header key=value on every record (repeatable)");
  p->add_option("--acks", o->acks, "Acknowledgements: 0, 1 or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  p->add_option("--compression", o->compression, "none, gzip, snappy, lz4 or zstd")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  p->add_option("-p,--partition", o->partition, "Produce to this partition only")
      ->check(CLI::Range(0, 1 << 30));
  on_run(p, g, [&g, o] { return produce(g, *o); });
}

}  // namespace kaffa::cli
