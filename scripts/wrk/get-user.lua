-- wrk script for W2 (GET /Users/{id}) against a seeded database, to cross-check
-- `scimd-bench run` with the tool the peers' figures were taken with (docs/PERFORMANCE.md):
--
--   SCIMD_IDS=<seed dir>/ids.txt SCIMD_TOKEN=<bearer token> \
--     wrk -t2 -c16 -d10s -s scripts/wrk/get-user.lua http://127.0.0.1:8080
--
-- Each request asks for a random id of the seed's ids file (one id per line). Against
-- `scimd-bench limit` the token is ignored.
local ids = {}
for line in io.lines(os.getenv("SCIMD_IDS") or "ids.txt") do
  ids[#ids + 1] = line
end
local prefix = os.getenv("SCIMD_PATH_PREFIX") or "/scim/v2"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SCIMD_TOKEN") or "")

local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("seed", thread_number)
end

function init(args)
  math.randomseed(seed * 7919)
end

function request()
  return wrk.format("GET", prefix .. "/Users/" .. ids[math.random(#ids)])
end
