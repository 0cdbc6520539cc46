-- gate.lua: POST /v1/gate asking to decommission a few named desktops of one
-- KMS host, without reserve (state does not change, apart from the decision
-- row every evaluation writes). The desktops differ from request to request.
--
--   KG_TOKEN=... wrk -t2 -c32 -d15s --latency -s bench/gate.lua \
--       http://127.0.0.1:PORT -- KMS_HOST NAMES_FILE [PER_REQUEST]
--
-- NAMES_FILE: hostnames of active desktops of KMS_HOST, one a line
-- (bench/seed.py --names-out writes it). PER_REQUEST: desktops per plan
-- (default 3). The token (hook or admin) comes from KG_TOKEN.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua")

local requests_ring = {}
local next_index = 1

function init(args)
  local host, names_file, per = args[1], args[2], tonumber(args[3] or "3")
  local token = os.getenv("KG_TOKEN")
  assert(host and names_file, "usage: -- KMS_HOST NAMES_FILE [PER_REQUEST]")
  assert(token and #token > 0, "KG_TOKEN is not set")
  local names = kg_read_lines(names_file)
  assert(#names >= per, "not enough names in " .. names_file)
  local headers = { ["Authorization"] = "Bearer " .. token,
                    ["Content-Type"] = "application/json" }
  -- Pre-built requests (building one per call would cost the client CPU it
  -- shares with the server). Each thread draws its own random plans.
  local seed = os.time()
  for ch in tostring(wrk.thread):gmatch(".") do seed = (seed * 31 + ch:byte()) % 2147483647 end
  math.randomseed(seed)
  local n = math.min(1000, math.max(100, #names))
  for i = 1, n do
    local picked, used = {}, {}
    while #picked < per do
      local name = names[math.random(#names)]
      if not used[name] then
        used[name] = true
        picked[#picked + 1] = '"' .. name .. '"'
      end
    end
    local body = '{"kms_host":"' .. host .. '","decommission":{"desktops":[' ..
                 table.concat(picked, ",") .. ']},"horizon_days":45}'
    requests_ring[i] = wrk.format("POST", "/v1/gate", headers, body)
  end
  next_index = math.random(n)
end

function request()
  local r = requests_ring[next_index]
  next_index = next_index % #requests_ring + 1
  return r
end
