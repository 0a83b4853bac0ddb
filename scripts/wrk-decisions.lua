-- wrk script for scripts/bench-serve.sh: POSTs decision requests read from a
-- file (one JSON body per line), round robin, each thread from its own offset.
--   wrk -s scripts/wrk-decisions.lua URL -- BODIES [PATH]
local requests = {}
local n = 0
local i = 0

function init(args)
  local path = args[2] or "/v1/inbound"
  for line in io.lines(args[1]) do
    n = n + 1
    requests[n] = wrk.format("POST", path, { ["Content-Type"] = "application/json" }, line)
  end
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  return requests[i]
end
