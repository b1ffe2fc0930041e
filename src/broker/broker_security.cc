// Broker: where the ACLs and the SCRAM credentials live. A single node keeps them in its own
// files (security/acl.h, security/scram.h). A cluster keeps each set as one record of the
// metadata store (EtcdMetadata::update_shared), in the same text, so that a user or an ACL made
// through any broker holds on every broker: each broker replaces its authorizer's set and its
// credential store's users with those of every new image.
#include <filesystem>

#include "base/log.h"
#include "broker/broker.h"
#include "broker/shared_records.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {
namespace {

using security::AclBinding;
using security::ScramUsers;
using Acls = std::set<AclBinding>;
using shared::as_text_change;
using shared::decode_record;
using shared::finish;

}  // namespace

void Broker::load_security_stores() {
  const auto scram_file = security::ScramCredentialStore::default_path(config_.log_dir);
  const auto acl_file = security::Authorizer::default_path(config_.log_dir);
  scram_ = std::make_shared<security::ScramCredentialStore>(scram_file);
  if (config_.acl_authorizer) {
    authorizer_ = std::make_unique<security::Authorizer>(
        acl_file, security::AuthorizerOptions{config_.super_users,
                                              config_.allow_everyone_if_no_acl_found, clustered()});
  }
  if (clustered()) {
    // The sets come with the first metadata image; until then only super users are authorized
    // and no SCRAM user exists.
    for (const auto& file : {scram_file, acl_file}) {
      std::error_code ec;
      if (std::filesystem::exists(file, ec)) {
        log::warn(
            "{} is not used: in a cluster, ACLs and SCRAM credentials live in the "
            "metadata store",
            file.string());
      }
    }
    return;
  }
  if (std::string error; !scram_->load(&error)) throw std::runtime_error(error);
  if (authorizer_) {
    if (std::string error; !authorizer_->load(&error)) throw std::runtime_error(error);
    log::info("ACL authorizer on: {} ACLs, {} super users",
              authorizer_->snapshot()->bindings().size(), config_.super_users.size());
  }
}

void Broker::apply_security_records(const cluster::MetadataImage* previous,
                                    const cluster::MetadataImage& current) {
  if (authorizer_ && (previous == nullptr || !(previous->acls == current.acls))) {
    if (auto acls = decode_record<Acls>(current.acls, "ACLs", security::decode_acls)) {
      log::info("cluster: ACL authorizer on: {} ACLs (metadata revision {}), {} super users",
                acls->size(), current.acls.mod_revision, config_.super_users.size());
      authorizer_->replace(std::move(*acls));
    }
  }
  if (previous == nullptr || !(previous->scram_credentials == current.scram_credentials)) {
    if (auto users = decode_record<ScramUsers>(current.scram_credentials, "SCRAM credentials",
                                               security::decode_scram_users)) {
      scram_->replace(std::move(*users));
    }
  }
}

void Broker::update_acls(security::Authorizer::Change change, SecurityDone done) {
  if (!metadata_) {
    std::string error;
    if (!authorizer_->update(change, &error)) return done(error);
    return done("");
  }
  metadata_->update_shared(
      cluster::EtcdMetadata::Shared::acls,
      as_text_change<Acls>("ACLs", std::move(change), security::decode_acls, security::encode_acls),
      [done = std::move(done)](protocol::ErrorCode e, std::string why) {
        finish(done, e, std::move(why));
      });
}

void Broker::update_scram_users(std::function<bool(ScramUsers&)> change, SecurityDone done) {
  if (!metadata_) {
    std::string error;
    if (!scram_->update(change, &error)) return done(error);
    return done("");
  }
  shared::update_set<ScramUsers>(*metadata_, cluster::EtcdMetadata::Shared::scram_credentials,
                                 "SCRAM credentials", std::move(change),
                                 security::decode_scram_users, security::encode_scram_users,
                                 std::move(done));
}

}  // namespace kaffa::broker
