// Graceful shutdown: after SIGTERM no new connection is accepted, a request already in flight completes.
#include "api_test_util.hpp"
#include "test_support.hpp"

#include <csignal>
#include <thread>

namespace meta_db::api_test {
namespace {

TEST(ApiShutdown, InFlightRequestCompletesAfterSigterm) {
  testing::TempDir dir;
  testing::TestDatabase db("shutdown");
  ServerProcess server(dir.path(), "", db.uri());
  HttpClient idle(server.port());
  ASSERT_EQ(idle.Get("/health").status, 200);  // an idle keep-alive connection must not hold shutdown up
  const std::string body = R"({"name": "arrives during shutdown"})";
  HttpClient client(server.port());
  client.WriteRaw("POST /collections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 6));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the header has arrived: the request is in flight
  server.Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THROW(HttpClient(server.port()).Get("/health"), std::runtime_error);  // no longer accepting
  client.WriteRaw(body.substr(6));
  HttpResponse response = client.ReadOne();
  EXPECT_EQ(response.status, 201) << response.body;
  EXPECT_EQ(response.Header("connection"), "close");
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace meta_db::api_test
