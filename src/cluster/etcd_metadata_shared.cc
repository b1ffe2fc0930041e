// EtcdMetadata: records shared whole (the ACLs, the SCRAM credentials). Each is one key read and
// written as a unit: a read, the caller's change, then a put guarded by the version read. Their
// values are the security module's text; this file never parses them.
#include <asio/post.hpp>

#include "base/log.h"
#include "cluster/etcd_metadata_impl.h"

namespace kaffa::cluster {

using protocol::ErrorCode;

void EtcdMetadata::update_shared(Shared which, RecordChange change, Done done) {
  asio::post(impl_->io_,
             [impl = impl_.get(), which, change = std::move(change), done = std::move(done)] {
               impl->update_shared(which, change, done, kSharedAttempts);
             });
}

void EtcdMetadata::Impl::update_shared(Shared which, RecordChange change, Done done, int attempts) {
  const std::string key = which == Shared::acls                ? keys_.acls()
                          : which == Shared::scram_credentials ? keys_.scram_credentials()
                          : which == Shared::client_quotas     ? keys_.client_quotas()
                          : which == Shared::group_configs     ? keys_.group_configs()
                                                               : keys_.broker_configs();
  client_->get(key, [this, which, key, change, done,
                     attempts](etcd::Result<std::optional<etcd::KeyValue>> g) {
    if (stopping_) return;
    auto again = [this, which, change, done, attempts](std::string why) {
      if (attempts <= 1) return done(ErrorCode::request_timed_out, std::move(why));
      after(std::chrono::milliseconds(20), [this, which, change, done, attempts] {
        update_shared(which, change, done, attempts - 1);
      });
    };
    if (!g) return again("etcd: " + g.error().describe());
    const std::string current = g->has_value() ? (*g)->value : std::string();
    const int64_t version = g->has_value() ? (*g)->version : 0;
    const int64_t seen = g->has_value() ? (*g)->mod_revision : 0;
    std::string error;
    auto next = change(current, &error);
    if (!next) {
      if (!error.empty()) return done(ErrorCode::unknown_server_error, std::move(error));
      return when_visible(seen, [done] { done(ErrorCode::none, ""); });
    }
    client_->put_if_version(
        key, *next, version,
        [this, key, value = *next, done, again](etcd::Result<etcd::TxnResult> r) {
          if (stopping_) return;
          if (r && r->succeeded) {
            return when_visible(r->revision, [done] { done(ErrorCode::none, ""); });
          }
          if (r) return again(key + " kept changing");
          // A request etcd refuses as such would be refused again: not stored, say why now.
          // INVALID_ARGUMENT: over --max-request-bytes; RESOURCE_EXHAUSTED: over the
          // gateway's message size limit.
          const int grpc = r.error().grpc_code;
          if (r.error().code == etcd::Error::Code::etcd && (grpc == 3 || grpc == 8)) {
            return done(ErrorCode::unknown_server_error,
                        key + ": etcd refused the write: " + r.error().describe());
          }
          // Unknown outcome: stored if the key now holds exactly our value (a change made after
          // ours would differ, and then ours is applied again to it, which a set's change allows).
          client_->get(key, [this, value, done, again, why = r.error().describe()](
                                etcd::Result<std::optional<etcd::KeyValue>> after_put) {
            if (stopping_) return;
            if (after_put && after_put->has_value() && (*after_put)->value == value) {
              return when_visible((*after_put)->mod_revision,
                                  [done] { done(ErrorCode::none, ""); });
            }
            again("etcd: " + why);
          });
        });
  });
}

}  // namespace kaffa::cluster
