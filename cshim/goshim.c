/* goshim: the Lua C module between Wireshark's Lua dissectors and
 * libgoparser.so. It only marshals: packet bytes go to Go in one call, and
 * Go's encoded result comes back either as a Lua string that decode()
 * turns into Lua values, or (run) stays in the shim's buffer, where
 * result() decodes its top level and item() reads tree items one at a
 * time, so that no Lua table or string is made per item. It knows nothing
 * about any protocol.
 *
 * Built once per Lua ABI (5.2 for Wireshark <= 4.2, 5.4 for 4.4+). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "goparser.h"
#include "shim.h"
#include "wireshark.h"

/* The ABI this shim was built for; overridable only to test the refusal. */
#ifndef GOSHIM_EXPECT_ABI
#define GOSHIM_EXPECT_ABI GOPARSER_ABI
#endif

#define MAX_ARGS 16
#define MIN_BUF (256 * 1024)
#define MAX_BUF ((size_t)256 * 1024 * 1024)

/* One result buffer, reused for every call; Wireshark dissects on one
 * thread. */
uint8_t *goshim_buf;
static size_t bufcap;

/* The length of the result in goshim_buf after run(); 0 after call(). */
static size_t reslen;

static int grow(size_t need) {
    size_t n = bufcap ? bufcap : MIN_BUF;
    uint8_t *p;
    if (need > MAX_BUF)
        return 0;
    while (n < need)
        n *= 2;
    if (n > MAX_BUF)
        n = MAX_BUF;
    p = realloc(goshim_buf, n);
    if (p == NULL)
        return 0;
    goshim_buf = p;
    bufcap = n;
    return 1;
}

static const char *library_path(void) {
    Dl_info info;
    if (dladdr((void *)gp_abi_version, &info) && info.dli_fname)
        return info.dli_fname;
    return "libgoparser.so";
}


/* Runs one gp_call and leaves its result (or error message) in goshim_buf.
 * Returns the status and sets *outlen; -1 when the result does not fit
 * (or no buffer could be had). */
int goshim_call(int op, int64_t *args, int nargs, const char *key, size_t keylen, const void *data, size_t datalen,
                size_t *outlen) {
    int st;
    reslen = 0;
    *outlen = 0;
    goshim_deferred_flush(op, args, nargs);
    if (!goshim_buf && !grow(MIN_BUF))
        return -1;
    st = gp_call(op, args, nargs, (char *)key, keylen, (uint8_t *)data, datalen, goshim_buf, bufcap, outlen);
    if (st == GP_NEED_BUFFER) {
        if (!grow(*outlen))
            return -1; /* *outlen says how large */
        st = gp_take(goshim_buf, bufcap, outlen);
    }
    if (*outlen > bufcap)
        *outlen = 0;
    return st;
}

/* A Lua number as an int64_t: NaN is 0 and values beyond the range are
 * its ends (the cast of such a double is undefined in C). The arguments
 * are numbers, not integers, as preferences may give fractions. */
static int64_t number_arg(lua_Number x) {
    if (x != x)
        return 0;
    if (x >= 9223372036854775807.0)
        return INT64_MAX;
    if (x <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

/* Runs one gp_call with the Lua arguments (op, data, key, int...) and
 * leaves the result in goshim_buf. Returns the status and its length; -1 with a
 * message pushed when the result does not fit. */
static int run_call(lua_State *L, size_t *outlen) {
    int op = (int)luaL_checkinteger(L, 1);
    size_t datalen = 0, keylen = 0;
    const char *data = luaL_optlstring(L, 2, "", &datalen);
    const char *key = luaL_optlstring(L, 3, "", &keylen);
    int64_t args[MAX_ARGS];
    int nargs = lua_gettop(L) - 3, i, st;

    if (nargs < 0)
        nargs = 0;
    if (nargs > MAX_ARGS)
        return luaL_error(L, "goshim.call: at most %d integer arguments", MAX_ARGS);
    for (i = 0; i < nargs; i++)
        args[i] = number_arg(luaL_checknumber(L, 4 + i));
    st = goshim_call(op, args, nargs, key, keylen, data, datalen, outlen);
    if (st == -1) {
        size_t n = *outlen;
        *outlen = 0;
        if (n == 0)
            return luaL_error(L, "goshim.call: out of memory");
        lua_pushfstring(L, "goshim.call: result of %d octets is too large", (int)(n > 0x7fffffff ? 0x7fffffff : n));
    }
    return st;
}

/* Pushes nil and the message of a failed run_call: either already on the
 * stack (-1) or in goshim_buf. */
static int push_failure(lua_State *L, int st, size_t outlen) {
    lua_pushnil(L);
    if (st == -1) {
        lua_insert(L, -2);
        return 2;
    }
    lua_pushlstring(L, (const char *)goshim_buf, st == GP_NOT_FOUND ? 0 : outlen);
    return 2;
}

/* goshim.call(op, data, key, int...) -> blob | nil, message */
static int l_call(lua_State *L) {
    size_t outlen;
    int st = run_call(L, &outlen);
    if (st != GP_OK)
        return push_failure(L, st, outlen);
    lua_pushlstring(L, (const char *)goshim_buf, outlen);
    return 1;
}

/* goshim.run(op, data, key, int...) -> true | false (GP_NOT_FOUND) |
 * nil, message. The result stays in the shim for result() and item(),
 * until the next call or run. */
static int l_run(lua_State *L) {
    size_t outlen;
    int st = run_call(L, &outlen);
    if (st == GP_NOT_FOUND) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (st != GP_OK)
        return push_failure(L, st, outlen);
    reslen = outlen;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_reset(lua_State *L) {
    (void)L;
    goshim_deferred_reset();
    gp_reset();
    goshim_stream_reset();
    return 0;
}

static int l_abi(lua_State *L) {
    lua_pushinteger(L, gp_abi_version());
    return 1;
}

/* Decoding of the result format (see goparser/result and shim.h). */

/* Steps over one value without building it; returns 0 on malformed input. */
int goshim_skip_value(struct reader *r, int depth) {
    uint32_t n, i;
    uint8_t tag;
    struct value v;
    if (depth > MAX_DEPTH || !need(r, 1))
        return 0;
    tag = *r->p;
    if (tag == TAG_ITEM) {
        struct item it;
        if (!goshim_read_item(r, &it))
            return 0;
        for (i = 0; i < it.children; i++)
            if (!goshim_skip_value(r, depth + 1))
                return 0;
        return 1;
    }
    if (tag != TAG_ARRAY && tag != TAG_MAP)
        return goshim_read_value(r, &v);
    r->p++;
    if (!need(r, 4))
        return 0;
    n = rd32(r->p);
    r->p += 4;
    if (tag == TAG_MAP) {
        if (n > 0x7fffffff)
            return 0;
        n *= 2;
    }
    if (!need(r, n))
        return 0;
    for (i = 0; i < n; i++)
        if (!goshim_skip_value(r, depth + 1))
            return 0;
    return 1;
}

static void push_scalar(lua_State *L, const struct value *v) {
    switch (v->tag) {
    case TAG_NIL:
        lua_pushnil(L);
        break;
    case TAG_FALSE:
    case TAG_TRUE:
        lua_pushboolean(L, (int)v->i);
        break;
    case TAG_FLOAT64:
        lua_pushnumber(L, (lua_Number)v->f);
        break;
    case TAG_STRING:
        lua_pushlstring(L, v->s, v->n);
        break;
    case TAG_REF:
        /* {base, offset, length}: only render() has the bytes. */
        lua_createtable(L, 3, 0);
        lua_pushinteger(L, (lua_Integer)v->ref_base);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (lua_Integer)v->i);
        lua_rawseti(L, -2, 2);
        lua_pushinteger(L, (lua_Integer)v->n);
        lua_rawseti(L, -2, 3);
        break;
#if LUA_VERSION_NUM < 503
    case TAG_INT64:
        /* Lua 5.2 has no 64-bit integers. Wireshark 4.4's Lua 5.4 refuses
         * a float where it wants an integer (pinfo.desegment_offset). */
        lua_pushnumber(L, (lua_Number)v->i);
        break;
#endif
    default:
        lua_pushinteger(L, (lua_Integer)v->i);
    }
}

static int push_value(lua_State *L, struct reader *r, int depth, uint32_t limit, uint32_t skip);

/* Pushes an item's field, offset, length, value, text and flags. */
static void push_item_head(lua_State *L, const struct item *it) {
    struct value n = {0};
    n.tag = TAG_INT64;
    n.i = it->field;
    push_scalar(L, &n);
    n.i = it->off;
    push_scalar(L, &n);
    n.i = it->len;
    push_scalar(L, &n);
    push_scalar(L, &it->v);
    push_scalar(L, &it->text);
    n.i = it->flags;
    push_scalar(L, &n);
}

/* Pushes an item as the array it decodes to (goparser/result/item.go):
 * {field, offset, length, value, text, flags [, {child…}]}. */
static int push_item(lua_State *L, struct reader *r, int depth) {
    struct item it;
    int i;
    if (!goshim_read_item(r, &it) || !lua_checkstack(L, 8))
        return 0;
    lua_createtable(L, it.has_children ? 7 : 6, 0);
    push_item_head(L, &it);
    for (i = 6; i >= 1; i--)
        lua_rawseti(L, -(i + 1), i);
    if (!it.has_children)
        return 1;
    lua_createtable(L, (int)it.children, 0);
    for (i = 1; i <= (int)it.children; i++) {
        if (!push_value(L, r, depth + 1, 0, 0))
            return 0;
        lua_rawseti(L, -2, i);
    }
    lua_rawseti(L, -2, 7);
    return 1;
}

/* Pushes one value; returns 0 on malformed input. In a top-level array
 * (depth 0), element number skip (1-based) is stepped over and left out. */
static int push_value(lua_State *L, struct reader *r, int depth, uint32_t limit, uint32_t skip) {
    uint8_t tag;
    uint32_t n, i;
    struct value v;
    if (depth > MAX_DEPTH || !need(r, 1) || !lua_checkstack(L, 4))
        return 0;
    tag = *r->p;
    if (tag == TAG_ITEM)
        return push_item(L, r, depth);
    if (tag != TAG_ARRAY && tag != TAG_MAP) {
        if (!goshim_read_value(r, &v))
            return 0;
        push_scalar(L, &v);
        return 1;
    }
    r->p++;
    switch (tag) {
    case TAG_ARRAY:
        if (!need(r, 4))
            return 0;
        n = rd32(r->p);
        r->p += 4;
        if (!need(r, n)) /* each value takes at least one octet */
            return 0;
        if (limit && n > limit)
            n = limit; /* only the leading elements are wanted */
        lua_createtable(L, (int)n, 0);
        for (i = 1; i <= n; i++) {
            if (depth == 0 && i == skip) {
                if (!goshim_skip_value(r, depth + 1))
                    return 0;
                continue;
            }
            if (!push_value(L, r, depth + 1, 0, 0))
                return 0;
            lua_rawseti(L, -2, (int)i);
        }
        return 1;
    case TAG_MAP:
        if (!need(r, 4))
            return 0;
        n = rd32(r->p);
        r->p += 4;
        if (!need(r, (size_t)n * 2))
            return 0;
        lua_createtable(L, 0, (int)n);
        for (i = 0; i < n; i++) {
            if (!push_value(L, r, depth + 1, 0, 0) || !push_value(L, r, depth + 1, 0, 0))
                return 0;
            if (lua_isnil(L, -2)) {
                lua_pop(L, 2);
                continue;
            }
            lua_rawset(L, -3);
        }
        return 1;
    }
    return 0;
}

int goshim_push_value(lua_State *L, struct reader *r, int depth) { return push_value(L, r, depth, 0, 0); }

void goshim_keep_until_close(lua_State *L, int idx, lua_CFunction fn) {
    lua_pushvalue(L, idx);
    luaL_ref(L, LUA_REGISTRYINDEX);
    /* A userdata in the registry, collected when the state closes. */
    lua_newuserdata(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_ref(L, LUA_REGISTRYINDEX);
}

/* goshim.decode(blob [, n [, skip]]) -> value. With n > 0, a top-level
 * array yields only its first n elements; with skip, its element number
 * skip is left out (nil). Both avoid building what is not needed, such as
 * tree items when Wireshark wants no tree. */
static int l_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer limit = luaL_optinteger(L, 2, 0);
    lua_Integer skip = luaL_optinteger(L, 3, 0);
    struct reader r;
    int top = lua_gettop(L);
    r.p = (const uint8_t *)s;
    r.end = r.p + len;
    if (limit < 0 || limit > 0x7fffffff)
        limit = 0;
    if (skip < 0 || skip > 0x7fffffff)
        skip = 0;
    if (!push_value(L, &r, 0, (uint32_t)limit, (uint32_t)skip)) {
        lua_settop(L, top);
        return luaL_error(L, "goshim.decode: malformed result (%d octets)", (int)len);
    }
    return 1;
}

/* Where item() and render() read next in the result of run(). */
struct reader goshim_cursor;

/* Top-level elements of the last result that follow its items, for
 * rest(). */
static uint32_t rest_left;

/* goshim.result(items) -> the first elements of the top-level array of the
 * last run() result, up to element number items, an array of tree items,
 * which is not built: its number of elements stands in its place, and
 * render() or item() read them from the cursor. rest() then returns the
 * elements after it. Stopping there spares a pass over the items. */
static int l_result(lua_State *L) {
    lua_Integer items = luaL_checkinteger(L, 1);
    struct reader r;
    uint32_t n, i;
    r.p = goshim_buf;
    r.end = goshim_buf + reslen;
    goshim_cursor.p = goshim_cursor.end = goshim_buf;
    rest_left = 0;
    if (reslen == 0 || !need(&r, 5) || r.p[0] != 7)
        return luaL_error(L, "goshim.result: no result (%d octets)", (int)reslen);
    n = rd32(r.p + 1);
    r.p += 5;
    if (!need(&r, n) || items < 1 || items > (lua_Integer)n)
        return luaL_error(L, "goshim.result: malformed result, or no element %d", (int)items);
    lua_createtable(L, (int)items, 0);
    for (i = 1; i < (uint32_t)items; i++) {
        if (!push_value(L, &r, 1, 0, 0))
            return luaL_error(L, "goshim.result: malformed result");
        lua_rawseti(L, -2, (int)i);
    }
    if (!need(&r, 5) || r.p[0] != 7)
        return luaL_error(L, "goshim.result: element %d is not an array of items", (int)items);
    lua_pushinteger(L, (lua_Integer)rd32(r.p + 1));
    lua_rawseti(L, -2, (int)items);
    goshim_cursor.p = r.p + 5;
    goshim_cursor.end = r.end;
    rest_left = n - (uint32_t)items;
    return 1;
}

/* goshim.rest() -> the top-level elements after the items, once render()
 * or item() has read all of them. */
static int l_rest(lua_State *L) {
    uint32_t i, n = rest_left;
    rest_left = 0;
    for (i = 0; i < n; i++)
        if (!push_value(L, &goshim_cursor, 1, 0, 0))
            return luaL_error(L, "goshim.rest: malformed result, or items left unread");
    return (int)n;
}

/* goshim.item() -> field, offset, length, value, text, flags, children:
 * the next tree item {field, offset, length, value, text, flags
 * [, {children}]} at the cursor that result() set. With children, the
 * cursor moves to the first child (items are stored depth first), and
 * children is their number; otherwise it is 0. */
static int l_item(lua_State *L) {
    struct item it;
    if (!need(&goshim_cursor, 1) || goshim_cursor.p[0] != TAG_ITEM)
        return luaL_error(L, "goshim.item: no item at the cursor");
    if (!goshim_read_item(&goshim_cursor, &it))
        return luaL_error(L, "goshim.item: malformed item");
    push_item_head(L, &it);
    lua_pushinteger(L, (lua_Integer)it.children);
    return 7;
}

/* goshim.enabled(filter name) -> whether the protocol is enabled
 * (--disable-protocol, Analyze > Enabled Protocols), true when this
 * Wireshark does not say. A Lua Proto does not tell. */
static int l_enabled(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int on = 1, id;
    protocol_t *p;
    if (proto_get_id_by_filter_name && find_protocol_by_id && proto_is_protocol_enabled &&
        (id = proto_get_id_by_filter_name(name)) >= 0 && (p = find_protocol_by_id(id)))
        on = proto_is_protocol_enabled(p);
    lua_pushboolean(L, on);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"call", l_call},
    {"run", l_run},
    {"result", l_result},
    {"item", l_item},
    {"rest", l_rest},
    {"decode", l_decode},
    {"reset", l_reset},
    {"abi", l_abi},
    {"enabled", l_enabled},
    {"bind", goshim_bind},
    {"render", goshim_render},
    {"stats", goshim_stats},
    {"postdissector", goshim_postdissector},
    {NULL, NULL},
};

int luaopen_goshim(lua_State *L) {
    int abi = gp_abi_version();
    Dl_info self;
    /* Never unloaded: Wireshark may hold a dissector handle into it
     * (postdissector.c) after Lua closes the state that loaded it. */
    if (dladdr((void *)luaopen_goshim, &self) && self.dli_fname)
        dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (abi != GOSHIM_EXPECT_ABI)
        return luaL_error(L, "goshim: %s has ABI version %d but this shim needs %d; rebuild both with 'make'",
                          library_path(), abi, GOSHIM_EXPECT_ABI);
    goshim_tshark_args_init();
    luaL_newlib(L, funcs);
    goshim_open_stream(L);
    lua_pushinteger(L, GOSHIM_EXPECT_ABI);
    lua_setfield(L, -2, "ABI");
    lua_pushstring(L, library_path());
    lua_setfield(L, -2, "library");
    return 1;
}
