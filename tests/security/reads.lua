-- wrk script for the load test and bench/load.sh: rotates over read endpoints (cheap pages, filtered lists, a
-- /query with a regex over every instance, /stats and /fields scans) and counts answers by class per thread.
local paths = {
  {"GET", "/series?limit=50"},
  {"GET", "/studies?limit=20"},
  {"GET", "/series?modality=CT&limit=10"},
  {"POST", "/query", '{"collection":"instances","filter":{"metadata.ImageType":{"$regex":"ORIG.*PRIM"}},"limit":5}'},
  {"GET", "/instances?limit=100"},
  {"POST", "/query", '{"collection":"series","filter":{"num_instances":{"$gte":1}},"sort":{"series_number":-1}}'},
  {"GET", "/stats"},
  {"GET", "/fields?collection=instances"},
}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  i = math.random(#paths)
  s2xx, s4xx, s5xx = 0, 0, 0
end

function request()
  i = i % #paths + 1
  local p = paths[i]
  if p[1] == "POST" then
    return wrk.format("POST", p[2], {["Content-Type"] = "application/json"}, p[3])
  end
  return wrk.format("GET", p[2])
end

function response(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1 elseif status >= 400 then s4xx = s4xx + 1 else s2xx = s2xx + 1 end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s2xx"); b = b + t:get("s4xx"); c = c + t:get("s5xx")
  end
  io.write(string.format("RESULT requests=%d 2xx=%d 4xx=%d 5xx=%d errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.1f\n",
    summary.requests, a, b, c, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests / (summary.duration / 1e6)))
end
