// The Beast/Asio transport: accept loop and C++20-coroutine sessions (keep-alive, limits, timeouts, graceful
// shutdown). The only file that includes Beast; everything it serves comes from the pure Router.
#include "db_api/server.hpp"
#include "db_api/job_runner.hpp"

#include "common/json_io.hpp"
#include "db_api/api.hpp"
#include "db_api/models.hpp"
#include "db_api/store_health.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <list>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

namespace meta_db {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// What the shutdown path needs to reach a live session: its strand and stream, and whether it is mid-request.
struct SessionState {
  net::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;  // valid while the session coroutine runs; touched only on its strand
  bool busy = false;
  bool stop = false;
};

// Live sessions, so SIGINT/SIGTERM can close idle keep-alive connections and wait for busy ones.
class SessionRegistry {
 public:
  // Called on the session's strand; a session accepted while shutting down is told to stop after one request.
  void Add(const std::shared_ptr<SessionState>& state) {
    std::lock_guard lock(mutex_);
    sessions_.push_back(state);
    if (stopping_) state->stop = true;
  }
  void Remove(const std::shared_ptr<SessionState>& state) {
    std::function<void()> done;
    {
      std::lock_guard lock(mutex_);
      sessions_.remove(state);
      if (stopping_ && sessions_.empty()) done = on_empty_;
    }
    if (done) done();
  }
  // Marks every session to stop after its current response; idle ones are cancelled now.
  void StopAll(std::function<void()> on_empty) {
    std::list<std::shared_ptr<SessionState>> sessions;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      on_empty_ = on_empty;
      sessions = sessions_;
    }
    for (const auto& state : sessions) {
      net::post(state->executor, [state] {
        state->stop = true;
        if (!state->busy && state->stream != nullptr) state->stream->cancel();
      });
    }
    if (sessions.empty()) on_empty();
  }

 private:
  std::mutex mutex_;
  std::list<std::shared_ptr<SessionState>> sessions_;
  bool stopping_ = false;
  std::function<void()> on_empty_;
};

// The store's worker threads and their bounded queue: a request that finds `capacity` requests already queued or
// running is refused at once (503) instead of waiting behind them. Workers run at a lower scheduling priority
// than the I/O threads (nice +5 per thread, Linux), so CPU-heavy store work on a busy machine never delays the
// I/O threads' cheap answers (/health p99 in docs/performance.md).
class WorkerPool {
 public:
  WorkerPool(int threads, std::size_t queue) : capacity_(static_cast<std::size_t>(threads) + queue) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        errno = 0;
        const int nice = getpriority(PRIO_PROCESS, 0);
        if (errno == 0 && setpriority(PRIO_PROCESS, 0, std::min(nice + 5, 19)) != 0) {
          spdlog::debug("worker priority unchanged: {}", std::strerror(errno));  // still correct, only less fair
        }
        context_.run();
      });
    }
  }
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  bool TryReserve() {
    if (in_use_.fetch_add(1) < capacity_) return true;
    in_use_.fetch_sub(1);
    return false;
  }
  void Release() { in_use_.fetch_sub(1); }
  net::io_context::executor_type executor() { return context_.get_executor(); }
  // Waits for the tasks already running (a store call cannot be interrupted) and drops the queued ones.
  void Stop() {
    guard_.reset();
    context_.stop();
    threads_.clear();  // joins
  }

 private:
  net::io_context context_;
  net::executor_work_guard<net::io_context::executor_type> guard_ = net::make_work_guard(context_);
  const std::size_t capacity_;
  std::atomic<std::size_t> in_use_{0};
  std::vector<std::jthread> threads_;  // last: joined before the context goes
};

struct Server {
  net::io_context& ioc;
  const ServeOptions& options;
  db_api::ApiContext& ctx;
  const db_api::Router& router;
  SessionRegistry& registry;
  WorkerPool& workers;
  std::vector<std::string> store_patterns;  // route patterns whose handlers touch the store
  std::atomic<std::size_t>& connections;
};

// The routes that never touch the store and run on the I/O thread, so they answer while every worker is busy:
// /health reads the background probe, the rest is in memory or on disk. Anything matching no route (the
// dashboard's files, 404s) runs there too.
bool IsCheapRoute(const db_api::Route& route) {
  return route.method == "GET" &&
         (route.pattern == "/health" || route.pattern == "/openapi.json" || route.pattern == "/docs" ||
          route.pattern == "/docs/{file}");
}

std::vector<std::string> StorePatterns(const db_api::Router& router) {
  std::vector<std::string> patterns;
  for (const db_api::Route& route : router.routes()) {
    if (!IsCheapRoute(route) && std::find(patterns.begin(), patterns.end(), route.pattern) == patterns.end()) {
      patterns.push_back(route.pattern);
    }
  }
  return patterns;
}

bool NeedsWorker(const Server& server, const db_api::Request& request) {
  std::map<std::string, std::string> ignored;
  for (const std::string& pattern : server.store_patterns) {
    if (db_api::MatchPattern(pattern, request.path, ignored)) return true;
  }
  return false;
}

db_api::Response Busy(std::string message) {
  db_api::Response response = db_api::ErrorResponse(Error(Errc::kUnavailable, std::move(message)));
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

// A status Errc has no code for (431, 408), in the usual error body.
db_api::Response TransportError(int status, std::string message) {
  return db_api::JsonResponse(status, ErrorBody(Error(Errc::kBadRequest, std::move(message))));
}

db_api::Request ToRequest(http::request<http::string_body>& message) {
  db_api::Request request;
  request.method = std::string(message.method_string());
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    request.headers[name] = std::string(field.value());
  }
  request.body = std::move(message.body());
  db_api::ParseTarget(message.target(), request);
  return request;
}

http::response<http::string_body> ToMessage(db_api::Response response, unsigned version, bool keep_alive) {
  db_api::ApplySafeDefaults(response);
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "meta_db/" + std::string(db_api::kVersion));
  if (!response.content_type.empty()) message.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) message.set(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  return message;
}

db_api::Response Route(const Server& server, db_api::Request& request) {
  return server.router.Dispatch(request, [&](const db_api::Request& r) { return StaticFallback(server.ctx, r); });
}

// A streamed body's chunks written straight to the socket from the worker that produces them: a write waits
// (poll, bounded by `timeout`) while the client's TCP window is full, so memory stays at one buffer and a slow
// reader slows the producer down; a client that went away (or stalls past the timeout) makes Write return false.
class SocketSink : public db_api::BodySink {
 public:
  SocketSink(tcp::socket& socket, bool chunked, std::chrono::seconds timeout)
      : socket_(socket), chunked_(chunked), timeout_(timeout) {}

  bool Write(std::string_view bytes) override {
    if (failed_ || bytes.empty()) return !failed_;
    if (chunked_) {
      char size[32];
      const int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
      if (!WriteAll({size, static_cast<std::size_t>(n)})) return false;
    }
    if (!WriteAll(bytes)) return false;
    return !chunked_ || WriteAll("\r\n");
  }
  // The last chunk (RFC 9112 7.1): only after a complete body, so a failed export never looks complete.
  bool Finish() { return !chunked_ || WriteAll("0\r\n\r\n"); }
  std::size_t bytes() const { return bytes_; }

 private:
  bool WriteAll(std::string_view data) {
    while (!data.empty() && !failed_) {
      beast::error_code ec;
      const std::size_t n = socket_.write_some(net::buffer(data.data(), data.size()), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        pollfd fd{socket_.native_handle(), POLLOUT, 0};
        const int ready = ::poll(&fd, 1, static_cast<int>(timeout_.count() * 1000));
        if (ready <= 0 || (fd.revents & (POLLERR | POLLHUP)) != 0) failed_ = true;
        continue;
      }
      if (ec) {
        failed_ = true;
        break;
      }
      bytes_ += n;
      data.remove_prefix(n);
    }
    return !failed_;
  }

  tcp::socket& socket_;
  const bool chunked_;
  const std::chrono::seconds timeout_;
  bool failed_ = false;
  std::size_t bytes_ = 0;
};

// What a request came to: an answer for the session to write, or a streamed body already written (by the worker).
struct Routed {
  db_api::Response response;
  bool streamed = false;
  bool clean = false;  // streamed to the end: the connection may be kept
  std::size_t bytes = 0;
};

// Sends a streamed response on the worker thread: the header at once (the first byte as soon as the request is
// validated), then the producer's chunks. The session coroutine is suspended meanwhile, so nothing else touches
// the socket. HTTP/1.0 clients get the body unframed, ended by closing.
void StreamOnWorker(const Server& server, tcp::socket& socket, Routed& routed, unsigned version, bool keep_alive) {
  db_api::Response& response = routed.response;
  db_api::ApplySafeDefaults(response);
  http::response<http::empty_body> header{static_cast<http::status>(response.status), version};
  header.set(http::field::server, "meta_db/" + std::string(db_api::kVersion));
  if (!response.content_type.empty()) header.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) header.set(name, value);
  const bool chunked = version >= 11;
  header.keep_alive(keep_alive && chunked);
  if (chunked) header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  beast::error_code ec;
  http::write_header(socket, serializer, ec);
  routed.streamed = true;
  if (ec) return;
  socket.non_blocking(true, ec);
  SocketSink sink(socket, chunked, std::chrono::seconds(server.options.read_timeout_seconds));
  bool produced = false;
  try {
    response.stream(sink);
    produced = true;
  } catch (const std::exception& ex) {
    spdlog::error("streamed response ended by an error after {} bytes: {}", sink.bytes(), ex.what());
  }
  routed.clean = produced && sink.Finish() && chunked && keep_alive;
  routed.bytes = sink.bytes();
  socket.non_blocking(false, ec);
}

// Runs the request on the worker pool and resumes the session on its own strand with the answer (or, for a
// streamed response, once the worker has sent it).
net::awaitable<Routed> RouteOnWorker(const Server& server, db_api::Request request, tcp::socket& socket,
                                     unsigned version, bool keep_alive) {
  auto initiate = [&server, &socket, version, keep_alive](auto handler, db_api::Request request) {
    auto work = net::make_work_guard(net::get_associated_executor(handler));
    net::post(server.workers.executor(), [&server, &socket, version, keep_alive, request = std::move(request),
                                          handler = std::move(handler), work = std::move(work)]() mutable {
      Routed routed;
      routed.response = Route(server, request);
      if (routed.response.stream) StreamOnWorker(server, socket, routed, version, keep_alive);
      server.workers.Release();
      auto executor = work.get_executor();
      net::post(executor, [handler = std::move(handler), routed = std::move(routed)]() mutable {
        std::move(handler)(std::move(routed));
      });
      work.reset();
    });
  };
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(Routed)>(initiate, net::use_awaitable,
                                                                                     std::move(request));
}

net::awaitable<Routed> Handle(const Server& server, http::request<http::string_body>& message,
                              const std::string& peer, tcp::socket& socket, bool keep_alive) {
  db_api::Request request;
  try {
    request = ToRequest(message);
  } catch (const Error& error) {
    co_return Routed{db_api::ErrorResponse(error)};
  }
  request.peer = peer;
  if (!NeedsWorker(server, request)) {
    Routed routed{Route(server, request)};
    // Streams come from store routes only; one here would be a route-table mistake, answered as one.
    if (routed.response.stream) routed.response = db_api::ErrorResponse(Error(Errc::kInternal, "internal error"));
    co_return routed;
  }
  if (!server.workers.TryReserve()) co_return Routed{Busy("server busy: every worker is taken and the queue is full")};
  co_return co_await RouteOnWorker(server, std::move(request), socket, message.version(), keep_alive);
}

// A transport-level failure before a request could be routed (413, 431, 408, malformed HTTP): answer, then close.
net::awaitable<void> RejectAndClose(beast::tcp_stream& stream, beast::flat_buffer& buffer, db_api::Response response) {
  auto message = ToMessage(std::move(response), 11, false);
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, message, kUseTuple);
  // Drain (bounded) what the client is still sending, so closing does not reset the connection before the
  // client has read our answer.
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  for (std::size_t drained = 0; drained < (8u << 20);) {
    buffer.clear();
    auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(64 * 1024), kUseTuple);
    if (read_ec) break;
    drained += n;
  }
}

// A job names up to 100,000 identifiers (StudyInstanceUIDs of up to 64 characters): POST /jobs may send this much.
constexpr std::size_t kJobBodyLimit = 16u << 20;

std::size_t BodyLimit(const http::request_parser<http::string_body>::value_type& header, const ServeOptions& options) {
  const std::string_view target = header.target();
  const bool job = header.method() == http::verb::post && (target == "/jobs" || target.starts_with("/jobs?"));
  return job ? std::max(options.body_limit, kJobBodyLimit) : options.body_limit;
}

// Why a request could not be read, when the answer is not simply to close.
enum class ReadFailure { kNone, kTooSlow, kTooManyFields };

// Reads one request, with the limits against slow and oversized clients: the keep-alive idle limit until its first
// byte, then `header_timeout_seconds` for the whole header, then the body at `min_body_rate` on average (after the
// same grace) with no pause longer than the header timeout. Clients such as curl send "Expect: 100-continue" with
// larger bodies and wait for the interim answer before sending them (RFC 9110 10.1.1); an over-limit
// Content-Length fails at the header. Once its header is in, a request counts as in flight: shutdown waits for it
// instead of cancelling the read.
net::awaitable<std::tuple<beast::error_code, ReadFailure>> ReadRequest(
    beast::tcp_stream& stream, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser,
    SessionState& state, const ServeOptions& options) {
  const auto header_timeout = std::chrono::seconds(options.header_timeout_seconds);
  if (buffer.size() == 0) {
    stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
    if (ec) co_return std::make_tuple(ec, ReadFailure::kNone);
    buffer.commit(n);
  }
  stream.expires_after(header_timeout);
  auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
  if (ec) co_return std::make_tuple(ec, ReadFailure::kNone);
  state.busy = true;
  const auto& header = parser.get();
  if (static_cast<std::size_t>(std::distance(header.begin(), header.end())) > options.max_header_fields) {
    co_return std::make_tuple(beast::error_code{}, ReadFailure::kTooManyFields);
  }
  const std::size_t body_limit = BodyLimit(header, options);
  if (parser.content_length() && *parser.content_length() > body_limit) {
    co_return std::make_tuple(beast::error_code(http::error::body_limit), ReadFailure::kNone);
  }
  if (parser.is_done()) co_return std::make_tuple(ec, ReadFailure::kNone);
  if (beast::iequals(header[http::field::expect], "100-continue")) {
    http::response<http::empty_body> proceed{http::status::continue_, header.version()};
    stream.expires_after(header_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, proceed, kUseTuple);
    if (write_ec) co_return std::make_tuple(write_ec, ReadFailure::kNone);
  }
  const auto body_start = std::chrono::steady_clock::now();
  std::size_t received = 0;
  while (!parser.is_done()) {
    stream.expires_after(header_timeout);
    auto [body_ec, body_n] = co_await http::async_read_some(stream, buffer, parser, kUseTuple);
    if (body_ec) co_return std::make_tuple(body_ec, ReadFailure::kNone);
    received += body_n;
    if (received > body_limit) co_return std::make_tuple(beast::error_code(http::error::body_limit), ReadFailure::kNone);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - body_start).count();
    if (!parser.is_done() && seconds > options.header_timeout_seconds &&
        static_cast<double>(received) < seconds * static_cast<double>(options.min_body_rate)) {
      co_return std::make_tuple(beast::error_code{}, ReadFailure::kTooSlow);
    }
  }
  if (parser.get().body().size() > body_limit) {
    co_return std::make_tuple(beast::error_code(http::error::body_limit), ReadFailure::kNone);
  }
  co_return std::make_tuple(beast::error_code{}, ReadFailure::kNone);
}

void LogAccess(const Server& server, const http::request<http::string_body>& message, int status,
               std::size_t bytes, std::chrono::steady_clock::time_point start) {
  if (!server.options.access_log) return;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{} {} {} {}B {:.2f}ms", std::string_view(message.method_string()), std::string_view(message.target()),
               status, bytes, ms);
}

// One place under the connection cap, given back however the session ends.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::atomic<std::size_t>& count) : count_(count) {}
  ~ConnectionSlot() { count_.fetch_sub(1); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  std::atomic<std::size_t>& count_;
};

net::awaitable<void> RunSession(tcp::socket socket, const Server& server) {
  const ConnectionSlot slot(server.connections);
  auto state = std::make_shared<SessionState>();
  state->executor = co_await net::this_coro::executor;
  const std::string peer = [&socket] {
    beast::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    return ec ? std::string() : endpoint.address().to_string();
  }();
  beast::tcp_stream stream(std::move(socket));
  state->stream = &stream;
  server.registry.Add(state);
  beast::flat_buffer buffer;
  const auto write_timeout = std::chrono::seconds(server.options.read_timeout_seconds);
  while (!state->stop) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(std::max(server.options.body_limit, kJobBodyLimit));
    parser.header_limit(static_cast<std::uint32_t>(server.options.header_limit));
    auto [ec, failure] = co_await ReadRequest(stream, buffer, parser, *state, server.options);
    std::optional<db_api::Response> rejection;
    if (ec == http::error::body_limit) {
      rejection = db_api::ErrorResponse(Error(
          Errc::kPayloadTooLarge, "request body over the limit of " + std::to_string(server.options.body_limit) + " bytes"));
    } else if (ec == http::error::header_limit || failure == ReadFailure::kTooManyFields) {
      rejection = TransportError(431, "request header over the limit of " + std::to_string(server.options.header_limit) +
                                          " bytes or " + std::to_string(server.options.max_header_fields) + " fields");
    } else if (failure == ReadFailure::kTooSlow) {
      rejection = TransportError(408, "request body slower than " + std::to_string(server.options.min_body_rate) +
                                          " bytes/s");
    } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      rejection = db_api::ErrorResponse(Error(Errc::kBadRequest, "malformed HTTP request: " + ec.message()));
    }
    if (rejection) {
      if (server.options.access_log) {
        spdlog::info("{} {} {} 0B", std::string_view(parser.get().method_string()),
                     std::string_view(parser.get().target()), rejection->status);
      }
      co_await RejectAndClose(stream, buffer, std::move(*rejection));
      break;
    }
    if (ec) break;  // EOF, timeout (the stream is closed then) or cancel end the session quietly
    const auto start = std::chrono::steady_clock::now();
    auto& message = parser.get();
    const bool wanted_keep_alive = message.keep_alive() && !state->stop;
    stream.expires_never();  // a streamed body is timed by its own writes (SocketSink), not by this read's timer
    Routed routed = co_await Handle(server, message, peer, stream.socket(), wanted_keep_alive);
    if (routed.streamed) {
      state->busy = false;
      LogAccess(server, message, routed.response.status, routed.bytes, start);
      if (!routed.clean || state->stop) break;
      continue;
    }
    db_api::Response response = std::move(routed.response);
    const int status = response.status;
    const bool keep_alive = wanted_keep_alive && !state->stop;
    auto reply = ToMessage(std::move(response), message.version(), keep_alive);
    const std::size_t bytes = reply.body().size();
    stream.expires_after(write_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, reply, kUseTuple);
    state->busy = false;
    LogAccess(server, message, status, bytes, start);
    if (write_ec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  state->stream = nullptr;
  server.registry.Remove(state);
}

// Over the connection cap: a fixed 503 written without waiting (it fits any socket buffer), then closed, so a flood
// of connections costs a descriptor for microseconds and the open connections keep their threads.
template <typename Socket>
void RefuseConnection(Socket& socket) {
  static constexpr std::string_view kAnswer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 147\r\n\r\n"
      "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many open connections, retry later\",\"details\":{}},"
      "\"detail\":\"too many open connections, retry later\"}\n";
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(kAnswer.data(), kAnswer.size()), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

net::awaitable<void> Listen(tcp::acceptor& acceptor, const Server& server) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(server.ioc), kUseTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
      // E.g. out of descriptors: keep serving the open connections, and retry later instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (server.connections.fetch_add(1) >= server.options.max_connections) {
      server.connections.fetch_sub(1);
      RefuseConnection(socket);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    net::co_spawn(executor, RunSession(std::move(socket), server), [](const std::exception_ptr& error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& ex) {
        spdlog::error("session ended by exception: {}", ex.what());
      }
    });
  }
}

// The first candidate directory that holds `marker`: the option, then an environment variable, then the
// build-time default in the source tree, then the same place relative to the executable (build/meta_db).
std::string ResolveAssetDir(const std::string& option, const char* env_name, const char* built_in,
                            const std::string& beside_exe, const std::string& marker) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!option.empty()) candidates.emplace_back(option);
  if (const char* env = std::getenv(env_name)) candidates.emplace_back(env);
  candidates.emplace_back(built_in);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / beside_exe);
  for (const fs::path& dir : candidates) {
    if (fs::is_regular_file(dir / marker, ec)) return dir.string();
  }
  return {};
}

std::string ResolveSwaggerDir(const ServeOptions& options) {
  std::string dir = ResolveAssetDir(options.swagger_dir, "META_DB_SWAGGER_DIR", META_DB_SWAGGER_DEFAULT_DIR,
                                    "src/db_api/swagger/node_modules/swagger-ui-dist", "swagger-ui-bundle.js");
  if (dir.empty()) {
    spdlog::warn("swagger-ui-dist not found (run: npm ci --prefix src/db_api/swagger); /docs will lack its assets");
  }
  return dir;
}

std::string ResolveWebRoot(const ServeOptions& options) {
  std::string dir = ResolveAssetDir(options.web_root, "META_DB_WEB_ROOT", META_DB_DASHBOARD_DEFAULT_DIR,
                                    "dashboard/dist", "index.html");
  if (dir.empty()) spdlog::warn("dashboard build not found (run: scripts/build.sh); / serves a landing page");
  return dir;
}

}  // namespace

int RunServer(Store& store, const ServeOptions& options) {
  db_api::ApiContext ctx(store, ResolveWebRoot(options), ResolveSwaggerDir(options));
  ctx.dictionary = options.dictionary;
  const auto guard = db_api::MakeRequestGuard(store, options.security);
  const db_api::Router router(db_api::BuildRoutes(ctx), guard.get());
  ctx.openapi_json = ToJson(db_api::BuildOpenApi(
      router.routes(), db_api::ModelSchemas(),
      {.tokens_required = !options.security.admin_token.empty(), .public_read = options.security.public_read}));
  // Probed every second; the first answer awaited up to 5 s (serve's MongoDB connect timeout is 3 s); a probe
  // hanging past 10 s is reported as a failure.
  db_api::StoreHealth health(store, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000),
                             std::chrono::milliseconds(10000));
  ctx.store_unreachable = [&health] { return health.Reason(); };
  // Jobs resolve on their own thread, never on the I/O threads or for long on a request worker.
  db_api::JobRunner job_runner(store);
  ctx.jobs = &job_runner;
  SessionRegistry registry;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.threads > 0 ? options.threads : cores;
  const int worker_threads = options.workers > 0 ? options.workers : std::max(4, 4 * cores);
  net::io_context ioc(threads);
  WorkerPool workers(worker_threads, options.queue);
  std::atomic<std::size_t> connections{0};
  const Server server{ioc, options, ctx, router, registry, workers, StorePatterns(router), connections};
  tcp::acceptor acceptor(net::make_strand(ioc));
  try {
    const tcp::endpoint endpoint(net::ip::make_address(options.host), options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
  } catch (const std::exception& ex) {
    spdlog::error("cannot listen on {}:{}: {}", options.host, options.port, ex.what());
    return 1;
  }
  const unsigned short port = acceptor.local_endpoint().port();
  spdlog::info("meta_db {} serving {} on http://{}:{} ({} I/O threads, {} workers, queue {})", db_api::kVersion,
               store.Backend(), options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host,
               port, threads, worker_threads, options.queue);
  net::co_spawn(acceptor.get_executor(), Listen(acceptor, server), net::detached);

  // Signal handling and the grace timer share one strand: timers are not safe to touch from two threads.
  auto control = net::make_strand(ioc);
  net::steady_timer grace(control);
  net::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: no new connections, finishing in-flight requests", signal);
    net::post(acceptor.get_executor(), [&] { acceptor.close(); });
    grace.expires_after(std::chrono::seconds(options.shutdown_grace_seconds));
    grace.async_wait([&](const boost::system::error_code& timer_ec) {
      if (!timer_ec) ioc.stop();  // stragglers past the grace period are cut off
    });
    // A second signal cuts the grace period short (as a second Ctrl-C is expected to).
    signals.async_wait([&](const boost::system::error_code& again, int) {
      if (!again) ioc.stop();
    });
    registry.StopAll([&] {
      net::post(control, [&] {
        grace.cancel();
        signals.cancel();  // nothing left in flight: let run() return
      });
    });
  });
  if (options.on_listening) options.on_listening(port);

  std::vector<std::jthread> io_threads;
  for (int i = 1; i < threads; ++i) io_threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  io_threads.clear();  // joins
  workers.Stop();      // before the sessions they would resume go with ioc
  spdlog::info("meta_db server stopped");
  return 0;
}

}  // namespace meta_db
