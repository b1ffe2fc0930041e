#include "cluster/etcd/connection.h"

#include <sys/socket.h>

#include <asio/connect.hpp>
#include <asio/write.hpp>
#include <cerrno>

namespace kaffa::etcd {

HttpConnection::HttpConnection(asio::any_io_executor ex, Endpoint endpoint, size_t endpoint_index)
    : resolver_(ex), socket_(ex), endpoint_(std::move(endpoint)), endpoint_index_(endpoint_index) {}

void HttpConnection::connect(std::function<void(std::error_code)> done) {
  resolver_.async_resolve(
      endpoint_.host, std::to_string(endpoint_.port),
      [self = shared_from_this(), done = std::move(done)](
          std::error_code ec, asio::ip::tcp::resolver::results_type results) mutable {
        if (ec) return done(ec);
        asio::async_connect(
            self->socket_, results,
            [self, done = std::move(done)](std::error_code ec2, const asio::ip::tcp::endpoint&) {
              if (!ec2) {
                std::error_code ignored;
                self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
              }
              done(ec2);
            });
      });
}

void HttpConnection::exchange(std::string request, std::shared_ptr<HttpResponseParser> parser,
                              std::function<void(std::error_code, bool)> done) {
  reusable_ = false;
  out_ = std::move(request);
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), parser = std::move(parser), done = std::move(done)](
                        std::error_code ec, size_t) mutable {
                      if (ec) return done(ec, false);
                      self->read_more(std::move(parser), std::move(done));
                    });
}

void HttpConnection::read_more(std::shared_ptr<HttpResponseParser> parser,
                               std::function<void(std::error_code, bool)> done) {
  socket_.async_read_some(asio::buffer(in_),
                          [self = shared_from_this(), parser = std::move(parser),
                           done = std::move(done)](std::error_code ec, size_t n) mutable {
                            using State = HttpResponseParser::State;
                            if (ec == asio::error::eof) {
                              parser->finish();
                              return done({}, true);
                            }
                            if (ec) return done(ec, true);
                            const State s = parser->feed(std::string_view(self->in_.data(), n));
                            if (s == State::done) {
                              self->reusable_ = parser->keep_alive();
                              return done({}, true);
                            }
                            if (s == State::failed) return done({}, true);
                            self->read_more(std::move(parser), std::move(done));
                          });
}

bool HttpConnection::write_more(std::string bytes) {
  if (writing_more_ || !socket_.is_open()) return false;
  writing_more_ = true;
  out_more_ = std::move(bytes);
  // A failed write shows up as a failed read of the exchange: nothing to do here.
  asio::async_write(
      socket_, asio::buffer(out_more_),
      [self = shared_from_this()](std::error_code, size_t) { self->writing_more_ = false; });
  return true;
}

bool HttpConnection::reusable() {
  if (!reusable_ || !socket_.is_open()) return false;
  char c;
  const auto n = ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read is the healthy state; 0 is the peer's close; data would be unsolicited.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void HttpConnection::close() {
  reusable_ = false;
  resolver_.cancel();
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace kaffa::etcd
