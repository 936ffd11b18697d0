// A small blocking HTTP/1.1 client over POSIX sockets for black-box API tests (loopback only, keep-alive).
#pragma once

#include <boost/json/value.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace meta_db::api_test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value Json() const;  // parsed body (throws on invalid JSON)
  std::string Header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(unsigned short port) : port_(port) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient(HttpClient&& other) noexcept
      : port_(other.port_), fd_(std::exchange(other.fd_, -1)), pending_(std::move(other.pending_)),
        headers_(std::move(other.headers_)) {}
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request (JSON content type when body is non-empty unless `content_type` says otherwise).
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view content_type = "application/json");
  HttpResponse Get(std::string_view target) { return Send("GET", target); }
  HttpResponse Post(std::string_view target, const boost::json::value& body);
  HttpResponse Patch(std::string_view target, const boost::json::value& body);
  HttpResponse Delete(std::string_view target) { return Send("DELETE", target); }
  // A header sent with every following request ("" removes it), e.g. Authorization or Origin.
  void SetHeader(const std::string& name, const std::string& value);
  // Writes raw bytes and reads one response (for malformed requests); closes the connection afterwards.
  HttpResponse Raw(std::string_view bytes);
  // Low-level halves, for requests sent in pieces (connects on first use).
  void WriteRaw(std::string_view bytes);
  HttpResponse ReadOne() { return ReadResponse(); }

 private:
  void Connect();
  void Close();
  void WriteAll(std::string_view bytes);
  HttpResponse ReadResponse();

  unsigned short port_;
  int fd_ = -1;
  std::string pending_;  // bytes read past the previous response
  std::map<std::string, std::string> headers_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short FreePort();

}  // namespace meta_db::api_test
