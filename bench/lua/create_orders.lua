-- wrk script: POST /api/v1/orders as many buyers, each request with its own Idempotency-Key.
-- args: <tokens file: "token address_id" per line> <sku_id>
local buyers = {}
local sku_id
local counter = 0
local thread_id = 0
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  for line in io.lines(args[1]) do
    local token, address = line:match("^(%S+)%s+(%d+)$")
    if token then buyers[#buyers + 1] = { token = token, address = address } end
  end
  sku_id = args[2]
end

function request()
  counter = counter + 1
  local buyer = buyers[(counter % #buyers) + 1]
  local body = '{"items":[{"sku_id":' .. sku_id .. ',"quantity":1}],"delivery_mode":"express","address_id":' .. buyer.address .. '}'
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. buyer.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. thread_id .. "-" .. counter,
  }, body)
end
