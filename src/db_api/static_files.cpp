// /openapi.json, Swagger UI at /docs (local swagger-ui-dist, no CDN) and the dashboard's static files.
#include "db_api/api.hpp"

#include "common/error.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace meta_db::db_api {

namespace {

namespace fs = std::filesystem;

// The only files /docs serves from swagger-ui-dist; a whitelist needs no path checks.
constexpr std::string_view kSwaggerFiles[] = {"swagger-ui.css", "swagger-ui-bundle.js",
                                              "swagger-ui-standalone-preset.js", "favicon-32x32.png",
                                              "favicon-16x16.png", "swagger-ui.css.map", "swagger-ui-bundle.js.map"};

constexpr std::string_view kSwaggerPage = R"(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>meta_db API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
)";

// Swagger UI's start-up, a file rather than an inline script so the Content-Security-Policy needs no 'unsafe-inline'.
constexpr std::string_view kSwaggerInit = R"(window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
)";

constexpr std::string_view kLandingPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meta_db</title></head>
<body><h1>meta_db</h1><p>API documentation: <a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).
The dashboard is served here when the server is started with a web root.</p></body></html>
)";

std::string ContentType(const fs::path& path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".map", "application/json"}, {".svg", "image/svg+xml"},
      {".png", "image/png"}, {".jpg", "image/jpeg"}, {".ico", "image/x-icon"}, {".woff2", "font/woff2"},
      {".woff", "font/woff"}, {".txt", "text/plain; charset=utf-8"}, {".wasm", "application/wasm"}};
  const std::string ext = path.extension().string();
  for (const auto& [suffix, type] : kTypes) {
    if (ext == suffix) return std::string(type);
  }
  return "application/octet-stream";
}

std::optional<Response> FileResponse(const fs::path& path, const std::string& cache_control) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  Response response;
  response.content_type = ContentType(path);
  response.body = std::move(content).str();
  response.headers.emplace_back("Cache-Control", cache_control);
  return response;
}

Response Html(std::string_view html) {
  Response response;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::string(html);
  return response;
}

// Resolves a URL path below `root`; nullopt if it would leave the root (.., symlinks out, odd characters).
std::optional<fs::path> UnderRoot(const fs::path& root, std::string_view relative) {
  if (relative.find('\0') != std::string_view::npos || relative.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  const fs::path rel = fs::path(std::string(relative)).relative_path();
  for (const auto& part : rel) {
    if (part == "..") return std::nullopt;
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return std::nullopt;
  const std::string base_text = base.string() + "/";
  if (full != base && full.string().rfind(base_text, 0) != 0) return std::nullopt;
  return full;
}

}  // namespace

Response OpenApiDocument(ApiContext& ctx, const Request&) {
  Response response;
  response.body = ctx.openapi_json;
  return response;
}

Response SwaggerPage(ApiContext&, const Request&) { return Html(kSwaggerPage); }

Response SwaggerAsset(ApiContext& ctx, const Request& request) {
  const std::string& file = request.PathParam("file");
  if (file == "init.js") {
    Response response;
    response.content_type = "text/javascript; charset=utf-8";
    response.body = std::string(kSwaggerInit);
    response.headers.emplace_back("Cache-Control", "no-cache");
    return response;
  }
  for (std::string_view allowed : kSwaggerFiles) {
    if (file != allowed || ctx.swagger_dir.empty()) continue;
    if (auto response = FileResponse(fs::path(ctx.swagger_dir) / file, "public, max-age=86400")) return *response;
  }
  throw Error(Errc::kNotFound,
              ctx.swagger_dir.empty() ? "Swagger UI assets not installed (npm ci in src/db_api/swagger)"
                                      : "no such documentation asset: " + file,
              boost::json::object{{"path", request.path}});
}

std::optional<Response> StaticFallback(ApiContext& ctx, const Request& request) {
  const std::string& path = request.path;
  if (ctx.web_root.empty()) {
    if (path == "/") return Html(kLandingPage);
    return std::nullopt;
  }
  const bool spa_route = path == "/" || path == "/ui" || path.starts_with("/ui/");
  auto resolved = UnderRoot(ctx.web_root, path);
  if (!resolved) {
    if (path.find("..") != std::string::npos) {
      throw Error(Errc::kBadRequest, "path escapes the web root", boost::json::object{{"path", path}});
    }
    return std::nullopt;
  }
  // Hashed build assets may be cached; index.html must not be, so new builds are picked up.
  if (path != "/" && path != "/ui" && path != "/ui/") {
    if (auto response = FileResponse(*resolved, "public, max-age=3600")) return response;
  }
  if (spa_route) return FileResponse(fs::path(ctx.web_root) / "index.html", "no-cache");
  return std::nullopt;
}

}  // namespace meta_db::db_api
