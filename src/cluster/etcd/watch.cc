#include "cluster/etcd/watch.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/base64.h"
#include "base/json.h"
#include "base/log.h"

namespace kaffa::etcd {
namespace {

constexpr std::chrono::milliseconds kMaxBackoff{2000};
constexpr size_t kMaxPendingBytes = 64 * 1024 * 1024;
// gRPC metadata through the gateway ("Grpc-Metadata-" headers): etcd then ends the watch
// stream when its member has lost the raft leader (else a cut-off member would keep the watch
// alive, answering heartbeats from its stale store, with no new events ever).
constexpr std::string_view kRequireLeader = "Grpc-Metadata-hasleader: true\r\n";

}  // namespace

WatchOptions WatchOptions::prefix(std::string prefix, int64_t start_revision) {
  WatchOptions o;
  o.range_end = prefix_range_end(prefix);
  o.key = prefix.empty() ? std::string(1, '\0') : std::move(prefix);
  o.start_revision = start_revision;
  return o;
}

Watch::Watch(std::shared_ptr<Client> client, WatchOptions options, EventsHandler on_events,
             EndHandler on_end)
    : client_(std::move(client)),
      options_(std::move(options)),
      on_events_(std::move(on_events)),
      on_end_(std::move(on_end)),
      timer_(client_->executor()),
      heartbeat_timer_(client_->executor()),
      next_revision_(options_.start_revision) {}

std::shared_ptr<Watch> Watch::start(std::shared_ptr<Client> client, WatchOptions options,
                                    EventsHandler on_events, EndHandler on_end) {
  auto w = std::make_shared<Watch>(std::move(client), std::move(options), std::move(on_events),
                                   std::move(on_end));
  w->connect();
  return w;
}

std::string Watch::create_request() const {
  json::Writer w;
  w.begin_object().key("create_request").begin_object();
  w.key("key").value(base64::encode(options_.key));
  if (!options_.range_end.empty()) w.key("range_end").value(base64::encode(options_.range_end));
  if (next_revision_ > 0) w.key("start_revision").value(std::to_string(next_revision_));
  if (options_.prev_kv) w.key("prev_kv").value(true);
  w.end_object().end_object();
  return w.str();
}

void Watch::connect() {
  if (stopped_) return;
  const uint64_t gen = ++generation_;
  created_ = false;
  pending_.clear();
  client_->open_stream_connection([self = shared_from_this(),
                                   gen](Result<std::shared_ptr<HttpConnection>> r) {
    if (self->stopped_ || gen != self->generation_) {
      if (r) (*r)->close();
      return;
    }
    if (!r) {
      if (r.error().code == Error::Code::cancelled) return self->end(r.error());
      return self->broken(r.error().describe());
    }
    self->conn_ = *r;
    std::weak_ptr<Watch> weak = self;
    self->parser_ =
        std::make_shared<HttpResponseParser>(kMaxPendingBytes, [weak, gen](std::string_view bytes) {
          auto w = weak.lock();
          if (w && !w->stopped_ && gen == w->generation_) w->on_body(bytes);
        });
    // The stream must be created within the request timeout, else try again.
    self->timer_.expires_after(self->client_->options().request_timeout);
    self->timer_.async_wait([self, gen](std::error_code ec) {
      if (ec || self->stopped_ || gen != self->generation_ || self->created_) return;
      if (self->conn_) self->client_->skip_endpoint(self->conn_->endpoint_index());
      self->broken("watch not created in time");
    });
    const auto& ep = self->conn_->endpoint();
    self->conn_->exchange(
        format_http_post_chunked(ep.str(), "/v3/watch", kRequireLeader, self->create_request()),
        self->parser_, [self, gen](std::error_code ec, bool) {
          if (self->stopped_ || gen != self->generation_) return;
          using State = HttpResponseParser::State;
          if (!ec && self->parser_->state() == State::done && self->parser_->status() != 200) {
            auto e = Client::http_error(*self->parser_);
            if (e && e->code == Error::Code::etcd) return self->end(*e);
          }
          self->broken(ec ? ec.message()
                          : (self->parser_->error().empty() ? "watch stream ended"
                                                            : self->parser_->error()));
        });
  });
}

void Watch::on_body(std::string_view bytes) {
  if (parser_->status() != 200) return;  // an error body: handled when the response ends
  pending_.append(bytes);
  const uint64_t gen = generation_;
  while (!stopped_ && gen == generation_) {
    const size_t len = json::complete_value_length(pending_);
    if (len == 0) break;
    std::string err;
    auto v = json::parse(std::string_view(pending_).substr(0, len), &err);
    pending_.erase(0, len);
    if (!v) return broken("malformed watch message: " + err);
    handle(*v);
  }
  if (pending_.size() > kMaxPendingBytes) broken("watch message too large");
}

void Watch::handle(const json::Value& v) {
  last_message_ = std::chrono::steady_clock::now();
  auto m = decode_watch_message(v);
  if (!m) {
    // etcd refused the watch itself (a malformed request): retrying would not help.
    if (m.error().code == Error::Code::etcd) return end(m.error());
    return broken(m.error().describe());
  }
  if (m->canceled) {
    if (m->compact_revision > 0) {
      Error e = Error::make(Error::Code::compacted,
                            fmt::format("watch from revision {} compacted (oldest available {})",
                                        next_revision_, m->compact_revision));
      e.compact_revision = m->compact_revision;
      return end(std::move(e));
    }
    return end(Error::make(Error::Code::etcd, "watch cancelled by etcd: " + m->cancel_reason));
  }
  if (m->created) {
    created_ = true;
    backoff_ = std::chrono::milliseconds(100);
    // Watching "from now": later resumes start after the revision it was created at.
    if (next_revision_ == 0) next_revision_ = m->batch.revision + 1;
    heartbeat_timer_.expires_after(heartbeat_interval());
    heartbeat_timer_.async_wait([self = shared_from_this(), gen = generation_](std::error_code ec) {
      if (!ec) self->heartbeat(gen);
    });
  }
  if (m->watch_id == -1 && !m->created && m->batch.events.empty()) {
    // A progress answer: every event up to this revision has been delivered.
    next_revision_ = std::max(next_revision_, m->batch.revision + 1);
    return;
  }
  if (m->batch.events.empty()) return;
  int64_t last = 0;
  for (const auto& e : m->batch.events) last = std::max(last, e.kv.mod_revision);
  next_revision_ = std::max(next_revision_, last + 1);
  if (!stopped_) on_events_(m->batch);
}

std::chrono::milliseconds Watch::heartbeat_interval() const {
  return options_.heartbeat.count() > 0 ? options_.heartbeat : client_->options().request_timeout;
}

void Watch::heartbeat(uint64_t gen) {
  if (stopped_ || gen != generation_ || !conn_) return;
  const auto interval = heartbeat_interval();
  if (std::chrono::steady_clock::now() - last_message_ > 2 * interval) {
    client_->skip_endpoint(conn_->endpoint_index());
    return broken("no answer to progress requests");
  }
  conn_->write_more(http_chunk(R"({"progress_request":{}})"));
  heartbeat_timer_.expires_after(interval);
  heartbeat_timer_.async_wait([self = shared_from_this(), gen](std::error_code ec) {
    if (!ec) self->heartbeat(gen);
  });
}

void Watch::broken(const std::string& why) {
  if (stopped_) return;
  ++generation_;  // stale callbacks of this stream are ignored from here on
  created_ = false;
  heartbeat_timer_.cancel();
  if (conn_) conn_->close();
  conn_.reset();
  // Reconnecting is the answer to every transient failure.
  log::debug("etcd watch on {:?}: {}; resuming from revision {} in {} ms", options_.key, why,
             next_revision_, backoff_.count());
  timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->stopped_) return;
    self->connect();
  });
}

void Watch::end(Error e) {
  if (stopped_) return;
  stopped_ = true;
  ++generation_;
  timer_.cancel();
  heartbeat_timer_.cancel();
  if (conn_) conn_->close();
  conn_.reset();
  if (auto handler = std::move(on_end_)) handler(e);
}

void Watch::cancel() {
  on_end_ = nullptr;
  end(Error::make(Error::Code::cancelled, "watch cancelled"));
}

}  // namespace kaffa::etcd
