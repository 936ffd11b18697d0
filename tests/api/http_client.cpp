// Blocking loopback HTTP client for the API tests; deliberately independent of the server's Beast code.
#include "http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace meta_db::api_test {

boost::json::value HttpResponse::Json() const { return boost::json::parse(body); }

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pending_.clear();
}

void HttpClient::Connect() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{30, 0};  // a hung server fails the test instead of hanging it
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Close();
    throw std::runtime_error("connect failed");
  }
}

void HttpClient::WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

HttpResponse HttpClient::ReadResponse() {
  std::string data = std::move(pending_);
  pending_.clear();
  char chunk[65536];
  auto fill = [&] {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    data.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t header_end;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) throw std::runtime_error("connection closed before a response");
  }
  HttpResponse response;
  const std::string head = data.substr(0, header_end);
  response.status = std::stoi(head.substr(9, 3));
  for (std::size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = next;
  }
  const std::size_t length = response.headers.contains("content-length")
                                 ? std::stoul(response.headers["content-length"]) : 0;
  while (data.size() < header_end + 4 + length) {
    if (!fill()) throw std::runtime_error("connection closed inside a body");
  }
  response.body = data.substr(header_end + 4, length);
  pending_ = data.substr(header_end + 4 + length);
  if (response.Header("connection") == "close") Close();
  return response;
}

HttpResponse HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                              std::string_view content_type) {
  std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers_) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PATCH") {
    if (!content_type.empty()) request += "Content-Type: " + std::string(content_type) + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  // One retry on a fresh connection: the server may have closed an idle keep-alive connection.
  for (int attempt = 0;; ++attempt) {
    const bool reused = fd_ >= 0;
    try {
      if (!reused) Connect();
      WriteAll(request);
      return ReadResponse();
    } catch (const std::runtime_error&) {
      Close();
      if (!reused || attempt == 1) throw;
    }
  }
}

void HttpClient::SetHeader(const std::string& name, const std::string& value) {
  if (value.empty()) {
    headers_.erase(name);
  } else {
    headers_[name] = value;
  }
}

HttpResponse HttpClient::Post(std::string_view target, const boost::json::value& body) {
  return Send("POST", target, boost::json::serialize(body));
}

HttpResponse HttpClient::Patch(std::string_view target, const boost::json::value& body) {
  return Send("PATCH", target, boost::json::serialize(body));
}

HttpResponse HttpClient::Raw(std::string_view bytes) {
  Close();
  Connect();
  WriteAll(bytes);
  HttpResponse response = ReadResponse();
  Close();
  return response;
}

void HttpClient::WriteRaw(std::string_view bytes) {
  if (fd_ < 0) Connect();
  WriteAll(bytes);
}

unsigned short FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t size = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace meta_db::api_test
