// Helpers shared by the API test files: a client on the shared server, unique names, fixture documents.
#pragma once

#include "http_client.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <unistd.h>

namespace meta_db::api_test {

inline HttpClient Client() { return HttpClient(SharedServer().port()); }

// A name unique within this run (the database is shared by all tests).
inline std::string Unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

inline std::string IdOf(const HttpResponse& response) {
  return std::string(response.Json().as_object().at("_id").as_string());
}

// The error code of an error response ("" if the body is not the error shape).
inline std::string ErrorCode(const HttpResponse& response) {
  try {
    return std::string(response.Json().at("error").at("code").as_string());
  } catch (const std::exception&) {
    return {};
  }
}

inline boost::json::value ErrorDetails(const HttpResponse& response) {
  return response.Json().at("error").at("details");
}

// POSTs and asserts 201; returns the stored document.
inline boost::json::object MustCreate(HttpClient& client, const std::string& path, const boost::json::value& body) {
  HttpResponse response = client.Post(path, body);
  EXPECT_EQ(response.status, 201) << path << " " << response.body;
  if (response.status != 201) return {};
  return response.Json().as_object();
}

}  // namespace meta_db::api_test
