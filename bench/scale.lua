-- wrk script of the scale benchmark (bench/scale.sh; see docs/benchmarks.md, "Scale (issue 6)").
--
-- The corpus: secret number i (0-based) belongs to tenant (i % T) of the T tenants listed in
-- SCALE_TENANTS_FILE (one "tenant_id token" per line: the tenant's first admin, created by
-- `POST /v1/identity/register`) and is that tenant's k-th secret, k = i / T, at path
-- `svc<k / 100, 3 digits>/key<k % 100, 2 digits>`: every tenant holds directories of exactly 100
-- secrets. Every request is the tenant's own (`/v1/secrets/...` with that tenant's token), so
-- it is authenticated, authorized, audited in the tenant's chain and answered as any API call.
--
-- SCALE_MODE:
--   load    PUT secrets SCALE_FROM .. SCALE_TO-1 (new secrets, one version each). Thread t of n
--           writes numbers FROM + t, FROM + t + n, ...; once its share is issued it sends only
--           `GET /health` every 50 ms per connection, and once every PUT of its share is
--           answered it writes the file SCALE_DONE_DIR/done.<t>; bench/scale.sh then stops wrk
--           (SIGINT) and counts the secrets the server holds. Failed PUTs are counted and
--           printed by done() as `load_failed N`.
--   read    GET a uniformly random secret of the first SCALE_SIZE.
--   write   PUT a new version (a durable, audited write) of a random existing secret of the
--           first SCALE_SIZE, in any of the tenants, or only in the first SCALE_WRITE_TENANTS.
--   list    GET /v1/secrets?prefix=svcNNN/&limit=50 as a random tenant, for a random
--           one of its directories (every directory holds 100 secrets: a full page of 50, the
--           same amount of matches at every corpus size).
--   listall GET /v1/secrets?prefix=svc&limit=50: every secret of the tenant
--           matches (SCALE_SIZE / T of them), which shows what counting `total_count` costs.
--
-- SCALE_ADDRS (optional): "host:port,host:port,...": wrk thread t connects to address t % n, so
-- with one thread per node the load is spread evenly over the nodes of a cluster.
-- SCALE_BYTES: size of the secret's `value` string (default 200).

local mode = os.getenv("SCALE_MODE") or error("SCALE_MODE is not set")
local tenants_file = os.getenv("SCALE_TENANTS_FILE") or error("SCALE_TENANTS_FILE is not set")
local value_bytes = tonumber(os.getenv("SCALE_BYTES") or "200")

local threads = {}
local thread_count = 0
local addrs = {}
do
  local list = os.getenv("SCALE_ADDRS") or ""
  for hostport in string.gmatch(list, "[^,]+") do
    local host, port = string.match(hostport, "^(.+):(%d+)$")
    local found = wrk.lookup(host, port)
    addrs[#addrs + 1] = found[1]
  end
end

function setup(thread)
  thread:set("tid", thread_count)
  if #addrs > 0 then
    thread.addr = addrs[(thread_count % #addrs) + 1]
  end
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

local tenants = {}
local T = 0
local tid_n, nthreads = 0, 1
local next_i, to_i = 0, 0
local size, write_tenants = 0, 0
local finished = false
local issued, answered, reported, last_answer = 0, 0, false, os.time()
failed = 0 -- global: done() reads it with thread:get
local filler = ""
local seq = 0

function init(args)
  for line in io.lines(tenants_file) do
    local id, token = string.match(line, "^(%S+)%s+(%S+)$")
    if id then
      -- wrk.format adds Host and Content-Length to the table it is given: one table per method.
      tenants[#tenants + 1] = {
        id = id,
        get = { ["Authorization"] = "Bearer " .. token },
        put = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
      }
    end
  end
  T = #tenants
  assert(T > 0, "no tenants in " .. tenants_file)
  tid_n = tid or 0
  nthreads = tonumber(os.getenv("SCALE_THREADS") or "1")
  size = tonumber(os.getenv("SCALE_SIZE") or "0")
  write_tenants = tonumber(os.getenv("SCALE_WRITE_TENANTS") or tostring(T))
  if mode == "load" then
    next_i = tonumber(os.getenv("SCALE_FROM")) + tid_n
    to_i = tonumber(os.getenv("SCALE_TO"))
  end
  filler = string.rep("x", value_bytes)
  math.randomseed(os.time() * 1000 + tid_n * 7919)
end

local function secret_path(i)
  local k = math.floor(i / T)
  return tenants[(i % T) + 1], string.format("svc%03d/key%02d", math.floor(k / 100), k % 100)
end

local function put(tenant, path, body)
  return wrk.format("PUT", "/v1/secrets/" .. path, tenant.put, body)
end

local function get(tenant, path)
  return wrk.format("GET", path, tenant.get)
end

local primed = false

function request()
  if mode == "load" then
    -- wrk calls request() once when a thread starts and throws that request away (it builds the
    -- static request of scripts without request()): never spend a secret number on it.
    if not primed then
      primed = true
      return wrk.format("GET", "/health")
    end
    if next_i >= to_i then
      finished = true
      return wrk.format("GET", "/health")
    end
    local i = next_i
    next_i = next_i + nthreads
    issued = issued + 1
    local tenant, path = secret_path(i)
    return put(tenant, path,
      string.format('{"data":{"username":"svc-%d","value":"%s"},"secret_type":"json"}', i, filler))
  elseif mode == "read" then
    local tenant, path = secret_path(math.random(0, size - 1))
    return get(tenant, "/v1/secrets/" .. path)
  elseif mode == "write" then
    -- A random tenant among the first write_tenants, a random one of its secrets.
    local per_tenant = math.floor(size / T)
    local i = math.random(0, write_tenants - 1) + T * math.random(0, per_tenant - 1)
    local tenant, path = secret_path(i)
    seq = seq + 1
    return put(tenant, path,
      string.format('{"data":{"username":"svc-%d","value":"%s","seq":"%d-%d"},"secret_type":"json"}',
        i, filler, tid_n, seq))
  elseif mode == "list" then
    local dirs = math.max(1, math.floor(size / T / 100))
    local tenant = tenants[math.random(1, T)]
    return get(tenant, string.format("/v1/secrets?prefix=svc%03d/&limit=50", math.random(0, dirs - 1)))
  elseif mode == "listall" then
    local tenant = tenants[math.random(1, T)]
    return get(tenant, "/v1/secrets?prefix=svc&limit=50")
  end
  error("unknown SCALE_MODE " .. mode)
end

-- Only the loader looks at answers (wrk skips response parsing for scripts without response()).
local function load_response(status, headers, body)
  -- Answers to the idle /health requests are not counted.
  if not (status == 200 and string.find(body or "", '"status":"ok"', 1, true)) then
    answered = answered + 1
    last_answer = os.time()
    if status >= 300 then
      failed = failed + 1
      if failed <= 5 then
        io.stderr:write("load: HTTP " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
      end
    end
  end
  report_if_done()
end

-- Writes SCALE_DONE_DIR/done.<t> ("issued answered failed") once every PUT of this thread's
-- share has its answer, or 10 s after the last answer (a PUT whose connection broke is never
-- answered, and its outcome is unknown: bench/scale.sh counts what the server holds).
function report_if_done()
  if finished and not reported and (answered == issued or os.time() - last_answer > 10) then
    reported = true
    local f = io.open(os.getenv("SCALE_DONE_DIR") .. "/done." .. tid_n, "w")
    f:write(string.format("%d %d %d\n", issued, answered, failed))
    f:close()
  end
end

if mode == "load" then
  response = load_response
  -- Idle connections (share issued) send one /health every 50 ms instead of flooding the server.
  function delay()
    if finished then
      report_if_done()
      return 50
    end
    return 0
  end
end

function done(summary, latency, requests)
  if mode == "load" then
    local total = 0
    for _, t in ipairs(threads) do
      total = total + (t:get("failed") or 0)
    end
    io.write(string.format("load_failed %d\n", total))
  end
end
