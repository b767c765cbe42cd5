-- wrk script: replay pre-signed WeChat Pay notifies, each once, at POST /api/v1/pay/notify.
-- args: <notify file: serial, signature, timestamp, nonce, body — five lines per notify>
local notifies = {}
local index = 0

function init(args)
  local lines = {}
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  for i = 1, #lines - 4, 5 do
    notifies[#notifies + 1] = wrk.format("POST", "/api/v1/pay/notify", {
      ["Content-Type"] = "application/json",
      ["Wechatpay-Serial"] = lines[i],
      ["Wechatpay-Signature"] = lines[i + 1],
      ["Wechatpay-Timestamp"] = lines[i + 2],
      ["Wechatpay-Nonce"] = lines[i + 3],
    }, lines[i + 4])
  end
end

function request()
  index = index + 1
  if index > #notifies then
    -- Every order is paid: stop, so the run's duration is the time the notifies took.
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  return notifies[index]
end
