// `kaffa consume TOPIC`: records to stdout, formatted by a template (or JSON lines), from a
// position, with or without a consumer group.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <set>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

struct ConsumeOpts {
  std::string topic;
  std::string from = "end";
  std::string group;
  std::vector<int32_t> partitions;
  std::string format = "%v\\n";
  int64_t count = 0;
  bool exit_at_end = false;
};

// --format, compiled: literal text and single-letter fields (0 = literal).
struct Piece {
  char field = 0;
  std::string text;
};

std::vector<Piece> compile_format(const std::string& f) {
  std::vector<Piece> out;
  auto lit = [&](char c) {
    if (out.empty() || out.back().field) out.push_back({});
    out.back().text += c;
  };
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if ((c == '%' || c == '\\') && i + 1 == f.size())
      usage_error("--format ends with " + f.substr(i));
    if (c == '%') {
      char n = f[++i];
      if (n == '%') {
        lit('%');
      } else if (std::string_view("kvhpotT").find(n) != std::string_view::npos) {
        out.push_back({n, {}});
      } else {
        usage_error(std::string("--format: unknown field %") + n +
                    " (known: %k %v %h %p %o %t %T %%)");
      }
    } else if (c == '\\') {
      char n = f[++i];
      lit(n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '0' ? '\0' : n);
    } else {
      lit(c);
    }
  }
  return out;
}

void append_headers(std::string& out, const rd_kafka_message_t* m, Json* j) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (j) j->begin_array();
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); ++i) {
      if (j) {
        j->begin_object().key("key").str(name).key("value").opt_bytes(val, size).end_object();
        continue;
      }
      if (i) out += ',';
      out += name;
      out += '=';
      if (val) out.append(static_cast<const char*>(val), size);
    }
  }
  if (j) j->end_array();
}

void format_record(std::string& out, const std::vector<Piece>& fmt, const rd_kafka_message_t* m) {
  for (const auto& p : fmt) {
    switch (p.field) {
      case 0:
        out += p.text;
        break;
      case 'k':
        if (m->key) out.append(static_cast<const char*>(m->key), m->key_len);
        break;
      case 'v':
        if (m->payload) out.append(static_cast<const char*>(m->payload), m->len);
        break;
      case 'h':
        append_headers(out, m, nullptr);
        break;
      case 'p':
        out += std::to_string(m->partition);
        break;
      case 'o':
        out += std::to_string(m->offset);
        break;
      case 't':
        out += rd_kafka_topic_name(m->rkt);
        break;
      case 'T':
        out += std::to_string(rd_kafka_message_timestamp(m, nullptr));
        break;
    }
  }
}

void json_record(std::string& out, const rd_kafka_message_t* m) {
  Json j;
  j.begin_object().key("topic").str(rd_kafka_topic_name(m->rkt)).key("partition").num(m->partition);
  j.key("offset").num(m->offset).key("timestamp").num(rd_kafka_message_timestamp(m, nullptr));
  j.key("key").opt_bytes(m->key, m->key_len).key("value").opt_bytes(m->payload, m->len);
  j.key("headers");
  append_headers(out, m, &j);
  j.end_object();
  out += j.text();
  out += '\n';
}

// Where to start: an offset (or RD_KAFKA_OFFSET_BEGINNING/END), or a timestamp.
struct Start {
  int64_t offset = RD_KAFKA_OFFSET_END;
  bool is_time = false;
};

Start parse_from(const std::string& s) {
  Start st;
  std::string digits = s;
  if (s == "beginning") {
    st.offset = RD_KAFKA_OFFSET_BEGINNING;
    return st;
  }
  if (s == "end") return st;
  if (!s.empty() && s[0] == '@') st.is_time = true, digits = s.substr(1);
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    usage_error("--from: expected beginning, end, an offset or @TIMESTAMP_MS, got '" + s + "'");
  }
  st.offset = std::stoll(digits);
  return st;
}

// Sets the start offsets of `parts` (offsets_for_times for a timestamp start).
void position(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, const Start& st,
              int timeout_ms) {
  for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = st.offset;
  if (!st.is_time) return;
  if (auto err = rd_kafka_offsets_for_times(rk, parts, timeout_ms)) {
    kafka_error("offsets for timestamp", err);
  }
  // No record at or after the time: start at the end (librdkafka answers -1 = OFFSET_END).
}

struct State {
  Start start;
  int timeout_ms = 0;
  std::map<int32_t, bool> at_end;  // assigned partitions: has the consumer reached their end
  std::set<int32_t> positioned;    // group mode: partitions already moved to --from
  std::string fatal;
};

void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                  void* opaque) {
  auto* st = static_cast<State*>(opaque);
  bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    bool explicit_start = st->start.is_time || st->start.offset >= 0;
    if (explicit_start) {
      // An explicit offset or time overrides the committed offsets, once per partition.
      rd_kafka_topic_partition_list_t* todo = rd_kafka_topic_partition_list_new(parts->cnt);
      for (int i = 0; i < parts->cnt; ++i) {
        if (!st->positioned.count(parts->elems[i].partition)) {
          rd_kafka_topic_partition_list_add(todo, parts->elems[i].topic, parts->elems[i].partition);
        }
      }
      try {
        position(rk, todo, st->start, st->timeout_ms);
      } catch (const Failure& f) {
        st->fatal = f.what();
      }
      for (int i = 0; i < todo->cnt; ++i) {
        auto* e = rd_kafka_topic_partition_list_find(parts, todo->elems[i].topic,
                                                     todo->elems[i].partition);
        if (e) e->offset = todo->elems[i].offset;
        st->positioned.insert(todo->elems[i].partition);
      }
      rd_kafka_topic_partition_list_destroy(todo);
    }
    for (int i = 0; i < parts->cnt; ++i) st->at_end[parts->elems[i].partition] = false;
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_assign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
  } else {
    for (int i = 0; i < parts->cnt; ++i) st->at_end.erase(parts->elems[i].partition);
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

bool all_at_end(const State& st) {
  if (st.at_end.empty()) return false;
  for (const auto& [p, end] : st.at_end) {
    if (!end) return false;
  }
  return true;
}

int consume(Globals& g, const ConsumeOpts& o) {
  State st;
  st.start = parse_from(o.from);
  st.timeout_ms = g.timeout_ms;
  auto fmt = compile_format(o.format);
  bool grouped = !o.group.empty();
  if (grouped && !o.partitions.empty()) usage_error("consume: -p and -g are exclusive");
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", st.start.offset == RD_KAFKA_OFFSET_BEGINNING ? "earliest" : "latest"}};
  if (grouped) {
    defaults.push_back({"group.id", o.group});
  } else {
    // librdkafka's assign() needs a group id; nothing is committed under it.
    defaults.push_back({"group.id", "kaffa-cli-unused"});
    defaults.push_back({"enable.auto.commit", "false"});
    defaults.push_back({"enable.auto.offset.store", "false"});
  }
  rd_kafka_conf_t* conf = make_conf(g, defaults);
  rd_kafka_conf_set_opaque(conf, &st);
  if (grouped) rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  Client c(g, RD_KAFKA_CONSUMER, conf);
  rd_kafka_t* rk = c.get();
  Metadata md = fetch_metadata(c);  // before poll_set_consumer: it serves the main queue
  const auto& t = require_topic(md.get(), o.topic);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(t.partition_cnt);
  if (grouped) {
    rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), RD_KAFKA_PARTITION_UA);
    auto err = rd_kafka_subscribe(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) kafka_error("subscribe to " + o.topic, err);
  } else {
    std::vector<int32_t> ids = o.partitions;
    if (ids.empty()) {
      for (int i = 0; i < t.partition_cnt; ++i) ids.push_back(t.partitions[i].id);
    }
    for (int32_t id : ids) {
      if (id >= t.partition_cnt) {
        rd_kafka_topic_partition_list_destroy(parts);
        throw Failure(kExitKafka, "topic " + o.topic + " has no partition " + std::to_string(id));
      }
      rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), id);
      st.at_end[id] = false;
    }
    try {
      position(rk, parts, st.start, g.timeout_ms);
    } catch (...) {
      rd_kafka_topic_partition_list_destroy(parts);
      throw;
    }
    auto err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) kafka_error("assign partitions of " + o.topic, err);
  }

  install_stop_signals();
  bool to_tty = isatty(STDOUT_FILENO) == 1;
  if (!to_tty) std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  Progress progress("consumed", !to_tty);
  std::string out;
  int64_t n = 0;
  rd_kafka_resp_err_t last_warning = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (!stop_requested() && st.fatal.empty()) {
    if (o.exit_at_end && all_at_end(st)) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) {
      std::fflush(stdout);
      progress.tick(static_cast<uint64_t>(n));
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      st.at_end[m->partition] = true;
    } else if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
               m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
      st.fatal = "consume " + o.topic + ": " + rd_kafka_message_errstr(m) + " (" +
                 rd_kafka_err2name(m->err) + ")";
    } else if (m->err) {
      if (m->err != last_warning) {
        std::fprintf(stderr, "kaffa: warning: %s\n", rd_kafka_message_errstr(m));
      }
      last_warning = m->err;
    } else {
      out.clear();
      if (g.json) {
        json_record(out, m);
      } else {
        format_record(out, fmt, m);
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      st.at_end[m->partition] = false;
      ++n;
      progress.tick(static_cast<uint64_t>(n));
    }
    rd_kafka_message_destroy(m);
    if (o.count > 0 && n >= o.count) break;
  }
  std::fflush(stdout);
  progress.done(static_cast<uint64_t>(n));
  if (grouped) {
    auto err = rd_kafka_commit(rk, nullptr, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && st.fatal.empty()) {
      st.fatal = std::string("commit offsets of group ") + o.group + ": " + rd_kafka_err2str(err);
    }
  }
  rd_kafka_consumer_close(rk);
  if (!st.fatal.empty()) throw Failure(kExitKafka, st.fatal);
  return 0;
}

}  // namespace

void add_consume_command(CLI::App& app, Globals& g) {
  auto o = std::make_shared<ConsumeOpts>();
  auto* c = app.add_subcommand("consume", "Consume records to stdout");
  c->add_option("topic", o->topic, "Topic")->required();
  c->add_option("--from", o->from,
                "Start: beginning, end, OFFSET or @TIMESTAMP_MS (with -g: where the group has no "
                "committed offset for beginning/end; OFFSET and @TIME override it)")
      ->capture_default_str();
  c->add_option("-g,--group", o->group, "Consume as a member of GROUP (and commit offsets)");
  c->add_option("-p,--partition", o->partitions, "Only these partitions (without -g)");
  c->add_option("--format", o->format,
                "Template: %k key, %v value, %h headers, %p partition, %o offset, %t topic, "
                "%T timestamp (ms), %% and \\n \\t escapes")
      ->capture_default_str();
  c->add_option("-n,--count", o->count, "Stop after COUNT records")->check(CLI::PositiveNumber);
  c->add_flag("-e,--exit", o->exit_at_end, "Exit at the end of every partition");
  on_run(c, g, [&g, o] { return consume(g, *o); });
}

}  // namespace kaffa::cli
