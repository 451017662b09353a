-- Lua-level test of the C shim in a plain Lua interpreter (no Wireshark):
--   LUA_SHIM=build/out/goshim52.so [LUA_SHIM_BADABI=...] lua5.2 cshim/shim_test.lua
-- Prints "N passed, M failed" and exits non-zero on any failure.

local shim_path = assert(os.getenv("LUA_SHIM"), "set LUA_SHIM to the shim's path")
local passed, failed = 0, 0

local function check(name, cond, detail)
    if cond then
        passed = passed + 1
    else
        failed = failed + 1
        print("FAIL " .. name .. (detail and (": " .. tostring(detail)) or ""))
    end
end

local open = assert(package.loadlib(shim_path, "luaopen_goshim"))
local g = open()

check("abi matches", g.abi() == g.ABI, g.abi())
check("library path reported", type(g.library) == "string" and g.library:match("libgoparser%.so$"), g.library)

-- The schema lists goh2 and fields named like Wireshark's http2.
local schema = g.decode(assert(g.call(0)))
local abbrevs = {}
for _, f in ipairs(schema.fields) do abbrevs[f[1]] = f end
local goh2_item
for _, p in ipairs(schema.protocols) do
    if p[1] == "goh2" then goh2_item = p[3] end
end
check("goh2 protocol", goh2_item ~= nil)
for _, want in ipairs({ "goh2.streamid", "goh2.type", "goh2.flags", "goh2.length", "goh2.header.name",
    "goh2.header.value", "goh2.settings.id", "goh2.method", "goh2.path", "goh2.status" }) do
    check("field " .. want, abbrevs[want] ~= nil)
end
check("frame type names", abbrevs["goh2.type"][6][1] == "HEADERS" and abbrevs["goh2.type"][6][9] == "CONTINUATION")

-- One call per payload: a preface and an empty SETTINGS frame.
local preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
local settings = "\0\0\0\4\0\0\0\0\0"
local ends = "127.0.0.1 40000\n127.0.0.1 80"
local r = g.decode(assert(g.call(1, preface .. settings, ends, 1)))
check("status ok", r[1] == 0, r[1])
check("consumed all", r[2] == #preface + #settings, r[2])
check("nothing needed", r[3] == 0, r[3])
check("two PDUs", #r[4] == 2, #r[4])
check("info", r[5] == "Magic, SETTINGS", r[5])
check("item has field, offset, length", r[4][2][1] == goh2_item and r[4][2][2] == 24 and r[4][2][3] == 9)
check("children present", type(r[4][2][7]) == "table" and #r[4][2][7] > 0)

-- decode(blob, n) builds only the first n elements of the top array.
local head = g.decode(assert(g.call(1, "\0\0\0\4\1\0\0\0\0", "127.0.0.1 80\n127.0.0.1 40000", 0)), 3)
check("partial decode", head[1] == 0 and head[4] == nil, head[4])

-- Expert infos are listed for callers without a tree.
r = g.decode(assert(g.call(1, "\0\0\4\3\0\0\0\0\1\0\0\0\8", ends, 0)))
check("experts listed", #r[6] == 1 and r[6][1][2] == "RST_STREAM[1] CANCEL", r[6][1] and r[6][1][2])

-- decode(blob, 0, 4) leaves out the PDUs but keeps what follows them.
local full = assert(g.call(1, "\0\0\8\6\0\0\0\0\0" .. string.rep("q", 8), ends, 0))
local lean = g.decode(full, 0, 4)
check("skip PDUs", lean[4] == nil and lean[5] == "PING" and lean[2] == 17, lean[5])

-- A partial frame asks for the missing octets; a partial header for one
-- more segment (-1).
r = g.decode(assert(g.call(1, "\0\0\8\6\0\0\0\0\0\1\2", ends, 0)))
check("need more", r[2] == 0 and r[3] == 6, tostring(r[2]) .. "/" .. tostring(r[3]))
r = g.decode(assert(g.call(1, "\0\0\8\6", ends, 0)))
check("need a segment", r[2] == 0 and r[3] == -1, tostring(r[2]) .. "/" .. tostring(r[3]))
-- Without reassembly a cut frame is shown as far as it goes.
r = g.decode(assert(g.call(1, "\0\0\8\6\0\0\0\0\0\1\2", ends, 0, 1)))
check("no reassembly", r[2] == 11 and r[3] == 0 and r[5]:match("partial"), r[5])

-- Not HTTP/2: the heuristic says no.
r = g.decode(assert(g.call(1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "10.0.0.1 1\n10.0.0.2 80", 1)))
check("heuristic rejects HTTP/1.1", r[1] == 1, r[1])

-- Errors come back as nil and a message, never as a crash.
local blob, msg = g.call(99)
check("unknown op", blob == nil and msg:match("unknown op"), msg)
blob, msg = g.call(1, "x", ends)
check("missing args", blob == nil and msg:match("needs 1 argument"), msg)

-- Malformed results raise a Lua error, not a crash.
for _, bad in ipairs({ "", "\7\255\255\255\255", "\6\10\0\0\0ab", "\42", string.rep("\7\1\0\0\0", 200) .. "\0" }) do
    local ok, err = pcall(g.decode, bad)
    check("malformed result rejected", not ok and tostring(err):match("malformed"), err)
end

-- Results larger than the shim's first buffer arrive whole.
local big = {}
for i = 1, 3000 do big[#big + 1] = "\0\0\8\6\0\0\0\0\0" .. string.rep("p", 8) end
r = g.decode(assert(g.call(1, table.concat(big), ends, 0)))
check("large result", #r[4] == 3000 and r[2] == 3000 * 17, #r[4])

-- reset() forgets connections: a fresh decoder after it.
g.reset()
r = g.decode(assert(g.call(1, "\0\0\8\6\0\0\0\0\0" .. string.rep("p", 8), "10.9.9.9 1\n10.9.9.8 2", 1)))
check("after reset", r[1] == 0 and r[5] == "PING", r[5])

-- run() keeps the result in the shim: result(4) decodes the top level up
-- to the PDUs, left as a count; item() reads the items depth first, the
-- same as decode() builds them, and rest() returns what follows them.
g.reset()
local pdata, pends = preface .. settings .. "\0\0\0\4\1\0\0\0\0", "127.0.0.1 40001\n127.0.0.1 80"
local want = g.decode(assert(g.call(1, pdata, pends, 1)))
g.reset()
check("run keeps the result", g.run(1, pdata, pends, 1, 0, 0, 0, 5, 1) == true)
local top = g.result(4)
check("result: PDUs counted", top[4] == #want[4] and top[5] == nil and top[1] == 0 and top[3] == want[3], tostring(top[4]))
local function same(items, level)
    for i = 1, #items do
        local f, off, len, v, text, flags, nkids = g.item()
        local w = items[i]
        if f ~= w[1] or off ~= w[2] or len ~= w[3] or v ~= w[4] or text ~= w[5] or flags ~= w[6] or nkids ~= (w[7] and #w[7] or 0) then
            return false, string.format("level %d item %d: %s %s %s", level, i, tostring(f), tostring(off), tostring(len))
        end
        if nkids > 0 then
            local ok, why = same(w[7], level + 1)
            if not ok then return false, why end
        end
    end
    return true
end
local ok_items, why = same(want[4], 0)
check("item() reads what decode() builds", ok_items, why)
local info, experts = g.rest()
check("rest() after the items", info == want[5] and type(experts) == "table" and #experts == #want[6], info)
check("item() past the end is an error", not pcall(g.item))
check("result() wants an array of items", not pcall(g.result, 1))

-- The item form (goparser/result/item.go) read by the shim's own decoder,
-- on the octets of the Go table tests, and damaged ones refused.
local it = g.decode("\7\2\0\0\0" .. "\11\29\4\0\0\0\2ab\1t\2\0\0\0" .. "\11\2\0\0\0\0" .. "\11\5\0\0\0\0\0" .. "\0")
check("item with children", it[1][1] == 2 and it[1][2] == 0 and it[1][4] == "ab" and it[1][5] == "t" and it[1][6] == 0
    and #it[1][7] == 2 and it[1][7][1][4] == true and it[1][7][2][4] == "" and it[1][7][2][5] == nil and it[2] == nil)
local neg = g.decode("\11\3\2\200\1\0\3\3")
check("item varints", neg[1] == 1 and neg[2] == 200 and neg[3] == 0 and neg[4] == -2 and neg[6] == 3 and neg[7] == nil,
    table.concat({ tostring(neg[1]), tostring(neg[2]), tostring(neg[4]), tostring(neg[6]) }, " "))
local xi = g.decode("\11\8\1\0\0\0\1m")
check("expert item", xi[1] == -1 and xi[4] == nil and xi[5] == "m")
local ref = g.decode("\11\6\2\5\172\2\0\1\200\1\3")
check("ref item", ref[1] == 1 and ref[2] == 5 and ref[3] == 300 and type(ref[4]) == "table" and ref[4][1] == 1
    and ref[4][2] == 200 and ref[4][3] == 3 and ref[5] == nil)
for _, bad in ipairs({ "\11\32\0\0\0\0", "\11\7\0\0\0\0", "\11\6\0\0\0\0", "\11\6\0\0\0\0\2\0\0", "\11\0\6\2", "\11\8\1\0\0\0\5m", "\11\16\0\0\0\0\1\0\0" }) do
    check("damaged item refused", not pcall(g.decode, bad), bad:byte(2))
end

-- Reads the items of the last result (without checking them) and returns
-- what follows them.
local function after_items(count)
    local function skip(n)
        for _ = 1, n do
            local _, _, _, _, _, _, kids = g.item()
            skip(kids)
        end
    end
    skip(count)
    return g.rest()
end

-- Go keeps the result of frame 5, ordinal 1; fetch (op 7) of the same
-- payload returns it after the connection has moved on, and nothing for
-- other octets at that frame.
g.run(1, "\0\0\8\6\0\0\0\0\0" .. string.rep("z", 8), pends, 0, 0, 0, 0, 6, 1)
check("fetch finds a kept result", g.run(7, pdata, "", 1, 5, 1) == true and after_items(g.result(4)[4]) == want[5])
check("fetch of other octets", g.run(7, pdata:sub(2), "", 1, 5, 1) == false)
check("fetch of frame 6", g.run(7, pdata, "", 1, 6, 1) == false)
g.reset()
check("reset forgets kept results", g.run(7, pdata, "", 1, 5, 1) == false)
local rr, rmsg = g.run(99)
check("run: errors as nil and a message", rr == nil and rmsg:match("unknown op"), rmsg)

-- bind() takes the schema's names and types (and ProtoExperts, which
-- only Wireshark has); render() needs libwireshark and says so here.
local names, types = {}, {}
for i, f in ipairs(schema.fields) do names[i], types[i] = f[1], f[3] end
check("bind takes the schema", pcall(g.bind, names, types, {}))
local bok, berr = pcall(g.bind, names, { "NO_SUCH_TYPE" }, {})
check("bind refuses mismatched types", not bok and tostring(berr):match("names but"), berr)
local rok, rerr = pcall(g.render, nil, nil, nil, 0)
check("render outside Wireshark refused", not rok and tostring(rerr):match("only inside Wireshark"), rerr)
-- stream() reads packet_info, whose layout only Wireshark's version gives.
check("no packet_info layout outside Wireshark", g.layout() == false)
local sok, serr = pcall(g.stream, 1, "GOH2", nil, nil, nil, false)
check("stream without a layout refused", not sok and tostring(serr):match("check layout"), serr)
check("no conversation dissector outside Wireshark", g.conversation() == false)
local cok, cerr = pcall(g.claim, nil)
check("claim without a conversation dissector refused", not cok and tostring(cerr):match("check conversation"), cerr)

-- A shim built for another ABI refuses the library with a clear message.
local bad_path = os.getenv("LUA_SHIM_BADABI")
if bad_path then
    local bad_open = assert(package.loadlib(bad_path, "luaopen_goshim"))
    local ok, err = pcall(bad_open)
    check("ABI mismatch refused", not ok and tostring(err):match("has ABI version %d+ but this shim needs 999"), err)
end

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
