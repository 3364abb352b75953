-- post_fax.lua — wrk script for bench/run.sh: POST /fax with a small multipart
-- text document (the API key comes from wrk's -H flag) and count the answers
-- that are not 202, summed over all threads in done().

local boundary = "faxbotBenchBoundary9a8b7c"
local doc = "Faxbot benchmark document.\nOne short page of plain text.\n"

wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"to\"\r\n\r\n+15551234567\r\n" ..
  "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"file\"; filename=\"bench.txt\"\r\n" ..
  "Content-Type: text/plain\r\n\r\n" .. doc .. "\r\n" ..
  "--" .. boundary .. "--\r\n"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  other = 0
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("accepted")
    bad = bad + t:get("other")
  end
  io.write(string.format("POST_FAX_ACCEPTED %d\nPOST_FAX_OTHER %d\n", ok, bad))
end
