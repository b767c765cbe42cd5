-- wrk script: the flash-sale burst. Buyers claim in turn, over and over for the run's duration
-- (each request with its own Idempotency-Key), so every buyer claims more than once.
-- args: <tokens file: "token address_id" per line> <session_id> <item_id>
local buyers = {}
local session_id, item_id
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local token, address = line:match("^(%S+)%s+(%d+)$")
    if token then buyers[#buyers + 1] = { token = token, address = address } end
  end
  session_id, item_id = args[2], args[3]
end

function request()
  index = index + 1
  local buyer = buyers[((index - 1) % #buyers) + 1]
  local body = '{"item_id":' .. item_id .. ',"quantity":1,"delivery_mode":"express","address_id":' .. buyer.address .. '}'
  return wrk.format("POST", "/api/v1/flash-sales/" .. session_id .. "/claims", {
    ["Authorization"] = "Bearer " .. buyer.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "fs-" .. index,
  }, body)
end
