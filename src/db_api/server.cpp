// The Beast/Asio transport: accept loop and C++20-coroutine sessions (keep-alive, limits, timeouts, graceful
// shutdown). The only file that includes Beast; everything it serves comes from the pure Router.
#include "db_api/server.hpp"

#include "common/json_io.hpp"
#include "db_api/api.hpp"
#include "db_api/models.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
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

struct Server {
  net::io_context& ioc;
  const ServeOptions& options;
  db_api::ApiContext& ctx;
  const db_api::Router& router;
  SessionRegistry& registry;
};

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
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "meta_db/" + std::string(db_api::kVersion));
  if (!response.content_type.empty()) message.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) message.set(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  return message;
}

db_api::Response Handle(const Server& server, http::request<http::string_body>& message, const std::string& peer) {
  db_api::Request request;
  try {
    request = ToRequest(message);
  } catch (const Error& error) {
    return db_api::ErrorResponse(error);
  }
  request.peer = peer;
  return server.router.Dispatch(request, [&](const db_api::Request& r) { return StaticFallback(server.ctx, r); });
}

// A transport-level failure before a request could be routed (413, malformed HTTP): answer, then close.
net::awaitable<void> RejectAndClose(beast::tcp_stream& stream, beast::flat_buffer& buffer, const Error& error) {
  auto message = ToMessage(db_api::ErrorResponse(error), 11, false);
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

// Reads one request. Clients such as curl send "Expect: 100-continue" with larger bodies and wait for the
// interim answer before sending them (RFC 9110 10.1.1); an over-limit Content-Length fails at the header.
// Once its header is in, a request counts as in flight: shutdown waits for it instead of cancelling the read.
net::awaitable<std::tuple<beast::error_code, std::size_t>> ReadRequest(
    beast::tcp_stream& stream, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser,
    SessionState& state) {
  auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
  if (!ec) state.busy = true;
  if (ec || parser.is_done()) co_return std::make_tuple(ec, n);
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> proceed{http::status::continue_, parser.get().version()};
    auto [write_ec, written] = co_await http::async_write(stream, proceed, kUseTuple);
    if (write_ec) co_return std::make_tuple(write_ec, n);
  }
  auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  co_return std::make_tuple(body_ec, n + body_n);
}

void LogAccess(const Server& server, const http::request<http::string_body>& message, int status,
               std::size_t bytes, std::chrono::steady_clock::time_point start) {
  if (!server.options.access_log) return;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("{} {} {} {}B {:.2f}ms", std::string_view(message.method_string()), std::string_view(message.target()),
               status, bytes, ms);
}

net::awaitable<void> RunSession(tcp::socket socket, const Server& server) {
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
  const auto timeout = std::chrono::seconds(server.options.read_timeout_seconds);
  while (!state->stop) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(server.options.body_limit);
    parser.header_limit(64 * 1024);
    stream.expires_after(timeout);
    auto [ec, n] = co_await ReadRequest(stream, buffer, parser, *state);
    if (ec == http::error::body_limit) {
      if (server.options.access_log) {
        spdlog::info("{} {} 413 0B", std::string_view(parser.get().method_string()),
                     std::string_view(parser.get().target()));
      }
      co_await RejectAndClose(stream, buffer, Error(Errc::kPayloadTooLarge, "request body over the limit of " +
                                                                                std::to_string(server.options.body_limit) +
                                                                                " bytes"));
      break;
    }
    if (ec) {
      // EOF, timeout or cancel end the session quietly; a malformed request gets a 400 first.
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        co_await RejectAndClose(stream, buffer, Error(Errc::kBadRequest, "malformed HTTP request: " + ec.message()));
      }
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    auto& message = parser.get();
    db_api::Response response = Handle(server, message, peer);
    const int status = response.status;
    const bool keep_alive = message.keep_alive() && !state->stop;
    auto reply = ToMessage(std::move(response), message.version(), keep_alive);
    const std::size_t bytes = reply.body().size();
    stream.expires_after(timeout);
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
  const auto guard = db_api::MakeRequestGuard(store, options.security);
  const db_api::Router router(db_api::BuildRoutes(ctx), guard.get());
  ctx.openapi_json = ToJson(db_api::BuildOpenApi(
      router.routes(), db_api::ModelSchemas(),
      {.tokens_required = !options.security.admin_token.empty(), .public_read = options.security.public_read}));
  SessionRegistry registry;
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  net::io_context ioc(threads);
  const Server server{ioc, options, ctx, router, registry};
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
  spdlog::info("meta_db {} serving {} on http://{}:{} ({} threads)", db_api::kVersion, store.Backend(),
               options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host, port, threads);
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

  std::vector<std::jthread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  workers.clear();  // joins
  spdlog::info("meta_db server stopped");
  return 0;
}

}  // namespace meta_db
