// Completion: the broker's handle on one request's answer. It holds only a weak reference to the
// connection, so that a late or foreign-thread call cannot keep a closed connection alive or
// touch it off its loop (Connection::deliver posts to the loop).
#include "base/log.h"
#include "net/connection.h"
#include "net/server.h"

namespace kaffa::net {

Completion::Completion(Completion&& other) noexcept
    : conn_(std::move(other.conn_)),
      sequence_(other.sequence_),
      pending_(other.pending_),
      used_(other.used_) {
  other.pending_ = false;
}

Completion& Completion::operator=(Completion&& other) noexcept {
  if (this != &other) {
    if (pending_) finish(static_cast<int>(detail::Outcome::close), nullptr);
    conn_ = std::move(other.conn_);
    sequence_ = other.sequence_;
    pending_ = other.pending_;
    used_ = other.used_;
    other.pending_ = false;
  }
  return *this;
}

Completion::~Completion() {
  if (!pending_) return;
  log::warn("net: request {} dropped without send/none/close; closing its connection", sequence_);
  finish(static_cast<int>(detail::Outcome::close), nullptr);
}

void Completion::send(ResponseFrame frame) {
  finish(static_cast<int>(detail::Outcome::send), &frame);
}
void Completion::send_and_close(ResponseFrame frame) {
  finish(static_cast<int>(detail::Outcome::send_close), &frame);
}
void Completion::none() {
  finish(static_cast<int>(detail::Outcome::none), nullptr);
}
void Completion::close() {
  finish(static_cast<int>(detail::Outcome::close), nullptr);
}

void Completion::finish(int outcome, ResponseFrame* frame) {
  if (!pending_) {
    if (used_) log::error("net: request {}: completion used twice (call ignored)", sequence_);
    return;
  }
  pending_ = false;
  used_ = true;
  std::shared_ptr<detail::Connection> conn = conn_.lock();
  conn_.reset();
  if (conn) {
    detail::Connection::deliver(std::move(conn), sequence_, static_cast<detail::Outcome>(outcome),
                                frame);
  }
}

}  // namespace kaffa::net
