-- wrk script: durable write throughput.
--
-- Every request is `PUT /v1/secrets/bench/writes/t<thread>-p<k>` with a ~1 KiB `data` object, so
-- each one creates a new version of one of a few secrets per wrk thread (BENCH_WRITE_PATHS, default 8)
-- and commits it to SQLite with `synchronous = FULL` (an fsync'd commit) before the answer.
-- `options.max_versions` is 100 (the maximum; BENCH_WRITE_MAX_VERSIONS overrides it): once a path holds 100 versions, every further write
-- also prunes the oldest, which is the steady state of any frequently rotated secret.
--
-- The token comes from SCAIVAULT_TOKEN (bench/run.sh sets it).

local token = os.getenv("SCAIVAULT_TOKEN") or error("SCAIVAULT_TOKEN is not set")
local paths = tonumber(os.getenv("BENCH_WRITE_PATHS") or "8")
local max_versions = tonumber(os.getenv("BENCH_WRITE_MAX_VERSIONS") or "100")

-- setup() runs once per thread in the main Lua state; give each thread its own id so threads
-- write to disjoint paths.
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

local filler = string.rep("x", 960)
local n = 0

function init(args)
  wrk.method = "PUT"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local path = string.format("/v1/secrets/bench/writes/t%d-p%d", tid or 0, n % paths)
  local body = string.format(
    '{"data":{"seq":"%d","filler":"%s"},"options":{"max_versions":%d}}', n, filler, max_versions)
  return wrk.format(nil, path, nil, body)
end
