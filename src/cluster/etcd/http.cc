#include "cluster/etcd/http.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace kaffa::etcd {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string format_http_post(std::string_view host, std::string_view path, std::string_view body) {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      path, host, body.size(), body);
}

std::string format_http_post_chunked(std::string_view host, std::string_view path,
                                     std::string_view extra_headers, std::string_view first) {
  return fmt::format(
             "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{}"
             "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
             path, host, extra_headers) +
         http_chunk(first);
}

std::string http_chunk(std::string_view data) {
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

HttpResponseParser::State HttpResponseParser::fail(std::string why) {
  if (state_ != State::failed) error_ = std::move(why);
  state_ = State::failed;
  return state_;
}

bool HttpResponseParser::parse_head(std::string_view head) {
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    fail("malformed status line");
    return false;
  }
  const bool http10 = status_line[7] == '0';
  keep_alive_ = !http10;
  const auto code = status_line.substr(9, 3);
  const auto r = std::from_chars(code.data(), code.data() + code.size(), status_);
  if (r.ec != std::errc() || r.ptr != code.data() + 3 || status_ < 100 || status_ > 599 ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    fail("malformed status code");
    return false;
  }
  bool has_length = false;
  uint64_t length = 0;
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const auto line = head.substr(pos, end - pos);
    pos = end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      fail("malformed header line");
      return false;
    }
    const auto name = lower(trim(line.substr(0, colon)));
    const auto value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      const auto lr = std::from_chars(value.data(), value.data() + value.size(), length);
      if (lr.ec != std::errc() || lr.ptr != value.data() + value.size() ||
          (has_length && length != remaining_)) {
        fail("malformed Content-Length");
        return false;
      }
      has_length = true;
      remaining_ = length;
    } else if (name == "transfer-encoding") {
      if (lower(value) != "chunked") {
        fail("unsupported Transfer-Encoding");
        return false;
      }
      chunked_ = true;
    } else if (name == "connection") {
      const auto v = lower(value);
      if (v == "close") keep_alive_ = false;
      if (v == "keep-alive") keep_alive_ = true;
    }
  }
  if (chunked_) {
    framing_ = Framing::chunked;
  } else if (has_length) {
    framing_ = Framing::length;
    if (length > max_body_) {
      fail("response body too large");
      return false;
    }
  } else if (status_ == 204 || status_ == 304) {
    framing_ = Framing::length;
    remaining_ = 0;
  } else {
    framing_ = Framing::until_close;
    keep_alive_ = false;
  }
  return true;
}

void HttpResponseParser::emit(std::string_view bytes) {
  if (bytes.empty()) return;
  if (on_body_) {
    on_body_(bytes);
  } else {
    body_.append(bytes);
  }
}

void HttpResponseParser::advance() {
  while (state_ == State::body) {
    if (framing_ == Framing::until_close || framing_ == Framing::length) {
      const size_t take = framing_ == Framing::length
                              ? static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()))
                              : buf_.size();
      body_size_ += take;
      if (body_size_ > max_body_) {
        fail("response body too large");
        return;
      }
      emit(std::string_view(buf_).substr(0, take));
      buf_.erase(0, take);
      if (framing_ == Framing::length) {
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::done;
      }
      return;
    }
    // Chunked.
    switch (chunk_step_) {
      case ChunkStep::size: {
        const auto eol = buf_.find("\r\n");
        if (eol == std::string::npos) {
          if (buf_.size() > 1024) fail("chunk size line too long");
          return;
        }
        std::string_view line(buf_.data(), eol);
        if (const auto semi = line.find(';'); semi != std::string_view::npos) {
          line = line.substr(0, semi);
        }
        line = trim(line);
        uint64_t size = 0;
        const auto r = std::from_chars(line.data(), line.data() + line.size(), size, 16);
        if (line.empty() || r.ec != std::errc() || r.ptr != line.data() + line.size()) {
          fail("malformed chunk size");
          return;
        }
        buf_.erase(0, eol + 2);
        if (size > max_body_) {
          fail("chunk too large");
          return;
        }
        remaining_ = size;
        chunk_step_ = size == 0 ? ChunkStep::trailers : ChunkStep::data;
        break;
      }
      case ChunkStep::data: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
        if (take == 0) return;
        body_size_ += take;
        if (!on_body_ && body_size_ > max_body_) {
          fail("response body too large");
          return;
        }
        emit(std::string_view(buf_).substr(0, take));
        buf_.erase(0, take);
        remaining_ -= take;
        if (remaining_ == 0) chunk_step_ = ChunkStep::data_crlf;
        break;
      }
      case ChunkStep::data_crlf:
        if (buf_.size() < 2) return;
        if (buf_.compare(0, 2, "\r\n") != 0) {
          fail("chunk not followed by CRLF");
          return;
        }
        buf_.erase(0, 2);
        chunk_step_ = ChunkStep::size;
        break;
      case ChunkStep::trailers: {
        const auto eol = buf_.find("\r\n");
        if (eol == std::string::npos) {
          if (buf_.size() > kMaxHeadBytes) fail("trailers too long");
          return;
        }
        buf_.erase(0, eol + 2);
        if (eol == 0) state_ = State::done;  // the empty line ending the trailers
        break;
      }
    }
  }
}

HttpResponseParser::State HttpResponseParser::feed(std::string_view data) {
  if (state_ == State::failed || state_ == State::done) {
    buf_.append(data);
    return state_;
  }
  buf_.append(data);
  while (state_ == State::head) {
    const auto end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buf_.size() > kMaxHeadBytes) return fail("response head too large");
      return state_;
    }
    if (end > kMaxHeadBytes) return fail("response head too large");
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    if (!parse_head(head)) return state_;
    if (status_ < 200) {
      // An interim answer (100 Continue to a streamed request): the real head follows.
      status_ = 0;
      chunked_ = false;
      keep_alive_ = true;
      remaining_ = 0;
      continue;
    }
    state_ = State::body;
    if (framing_ == Framing::length && remaining_ == 0) state_ = State::done;
  }
  advance();
  return state_;
}

HttpResponseParser::State HttpResponseParser::finish() {
  if (state_ == State::body && framing_ == Framing::until_close) {
    state_ = State::done;
    return state_;
  }
  if (state_ == State::done || state_ == State::failed) return state_;
  return fail(state_ == State::head ? "connection closed before the response head"
                                    : "connection closed in the middle of the body");
}

}  // namespace kaffa::etcd
