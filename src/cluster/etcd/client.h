// An asynchronous etcd v3 client over etcd's HTTP/JSON gateway (POST /v3/...), HTTP/1.1 with
// keep-alive. Formats: kv.h. Leases kept alive: lease.h; watches: watch.h; election: election.h.
//
// Threading: a Client lives on the executor given to create() (an io_context run by one thread,
// or a strand). Call it only from that executor; every callback is invoked on it, exactly once,
// never inside the call that started the operation. Nothing blocks; no exception leaves the API.
//
// Endpoints: requests go to the current endpoint; when it cannot be connected to, or answers
// "unavailable" (HTTP 503, gRPC code 14), the request moves on to the next endpoint (each
// endpoint at most once per request), and the client stays on the endpoint that worked. A
// request that was already sent is retried elsewhere only when it is a read (range) or a lease
// keep-alive/revoke, or when etcd refused it before proposing it ("etcdserver: no leader", "not
// capable", "unhealthy cluster"): a put, delete or txn whose connection broke after sending, or
// that got another "unavailable" answer ("request timed out": it may still be applied), fails
// with `unavailable` — the caller re-reads, as it would after a timeout.
//
// Deadline: each request has `request_timeout` from start to answer, endpoints tried included;
// past it the callback gets Error::Code::timeout and the connection is dropped, and later
// requests start at the next endpoint (a frozen or partitioned member accepts connections but
// does not answer: without this every request would wait for it).
//
// Lifetime: pending operations keep the Client alive. close() fails every pending operation
// with Error::Code::cancelled and makes later ones fail the same way; it also closes the
// connections of streams (watches), which then end with Error::Code::cancelled.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_reader.h"
#include "cluster/etcd/connection.h"
#include "cluster/etcd/error.h"
#include "cluster/etcd/kv.h"

namespace kaffa::etcd {

template <class T>
using Callback = std::function<void(Result<T>)>;

struct ClientOptions {
  std::vector<Endpoint> endpoints;
  std::chrono::milliseconds request_timeout{5000};
  size_t max_idle_connections = 4;
  size_t max_response_bytes = 64 * 1024 * 1024;
};

// "h1:p1,h2:p2", optionally prefixed by "etcd://" (the metadata.store setting's form). IPv6
// addresses in brackets: "[::1]:2379".
Result<std::vector<Endpoint>> parse_endpoints(std::string_view spec);

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(asio::any_io_executor ex, ClientOptions options);

  const asio::any_io_executor& executor() const { return ex_; }
  const ClientOptions& options() const { return options_; }
  // The endpoint requests currently go to. (With no endpoints configured every request fails
  // with `unavailable`; this must then not be called.)
  const Endpoint& current_endpoint() const { return options_.endpoints[current_]; }

  // --- KV ---
  void range(RangeRequest request, Callback<RangeResult> done);
  // One key: the KeyValue, or nullopt when absent.
  void get(std::string key, Callback<std::optional<KeyValue>> done);
  void get_prefix(std::string prefix, Callback<RangeResult> done, int64_t revision = 0);
  void put(PutRequest request, Callback<PutResult> done);
  void put(std::string key, std::string value, Callback<PutResult> done, int64_t lease = 0);
  void delete_range(DeleteRequest request, Callback<DeleteResult> done);
  void delete_key(std::string key, Callback<DeleteResult> done);
  void delete_prefix(std::string prefix, Callback<DeleteResult> done);
  void txn(TxnRequest request, Callback<TxnResult> done);

  // Compare-and-swap: put `value` only if the key's version is `expected_version` (0: only if
  // the key does not exist). On failure the result's responses hold the key's current state
  // (one RangeResult), so the caller can retry without another read.
  void put_if_version(std::string key, std::string value, int64_t expected_version,
                      Callback<TxnResult> done, int64_t lease = 0);
  // The same on mod_revision (the revision of the key's last change).
  void put_if_mod_revision(std::string key, std::string value, int64_t expected_mod_revision,
                           Callback<TxnResult> done, int64_t lease = 0);
  // Discards history before `revision` (watches from older revisions then fail as compacted).
  void compact(int64_t revision, Callback<Done> done);
  // Delete only if the key's version is `expected_version`.
  void delete_if_version(std::string key, int64_t expected_version, Callback<TxnResult> done);

  // --- Leases ---
  void lease_grant(int64_t ttl_seconds, Callback<LeaseGrant> done);
  // One keep-alive: the remaining TTL in seconds, 0 when the lease no longer exists.
  void lease_keep_alive_once(int64_t lease_id, Callback<int64_t> done);
  // Revokes the lease (deleting its keys). A lease that does not exist is an etcd error
  // (grpc_code 5).
  void lease_revoke(int64_t lease_id, Callback<Done> done);

  void close();
  bool closed() const { return closed_; }

  // The generic call: POST `path` with a JSON `body`; the answer's JSON object. For streamed
  // answers (lease keep-alive) the first object's "result". Used by the pieces above.
  void call(std::string path, std::string body, bool retry_after_send, bool streamed,
            Callback<json::Value> done);

  // A fresh connection to the current endpoint, connected (or moving through the endpoints as
  // a request does), for streams that hold their own connection (watch.h). Deadline: the
  // request timeout.
  void open_stream_connection(Callback<std::shared_ptr<HttpConnection>> done);

  // Moves the current endpoint past `endpoint_index` if it is the current one (a stream found it
  // unresponsive).
  void skip_endpoint(size_t endpoint_index);

  // Builds the HTTP request text for `path` on `endpoint`.
  static std::string http_request(const Endpoint& endpoint, std::string_view path,
                                  std::string_view body);
  // The Error for a completed HTTP exchange that was not a 200 with a JSON object; nullopt if OK.
  static std::optional<Error> http_error(const HttpResponseParser& parser);

 private:
  struct Call;
  Client(asio::any_io_executor ex, ClientOptions options);
  void start(std::shared_ptr<Call> call, std::string timeout_message);
  void attempt(std::shared_ptr<Call> call);
  void on_connected(std::shared_ptr<Call> call, std::shared_ptr<HttpConnection> conn);
  void on_exchanged(std::shared_ptr<Call> call, std::shared_ptr<HttpConnection> conn,
                    std::shared_ptr<HttpResponseParser> parser, std::error_code ec, bool sent);
  void next_endpoint(std::shared_ptr<Call> call, Error why);
  void finish(const std::shared_ptr<Call>& call, Result<json::Value> result);
  std::shared_ptr<HttpConnection> take_idle(size_t endpoint_index);
  void give_back(std::shared_ptr<HttpConnection> conn);
  template <class T, class Decode>
  void typed_call(std::string path, std::string body, bool retry, Callback<T> done, Decode decode);

  asio::any_io_executor ex_;
  ClientOptions options_;
  size_t current_ = 0;
  bool closed_ = false;
  std::vector<std::shared_ptr<HttpConnection>> idle_;
  std::vector<std::weak_ptr<Call>> pending_;
  std::vector<std::weak_ptr<HttpConnection>> streams_;  // handed out by open_stream_connection
};

}  // namespace kaffa::etcd
