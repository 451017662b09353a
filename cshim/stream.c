/* stream: one Lua call per TCP payload for a Go stream decoder (goh2's
 * GP_OP_H2), on the Wireshark versions whose packet_info layout.c knows.
 *
 * goh2.lua used to gather the call's arguments through Wireshark's Lua API
 * (address strings, ports, time, reassembly, the call's ordinal in
 * pinfo.private), then fetch the result's parts, set the columns and the
 * reassembly request: each a Lua call with userdata and strings made per
 * packet, together as costly as Go's decoding. This reads and writes the
 * same packet_info members directly, makes the same gp_call, and renders
 * the result with render.c. The script keeps that Lua path for other
 * versions; the two make the same calls into Go.
 *
 * Result of the op: {status, consumed, need, {item...}, info, experts
 * [, links]} (goparser/capi). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "goparser.h"
#include "shim.h"
#include "wireshark.h"

enum { STATUS_NOT_MINE = 1 };

static const struct pinfo_layout *layout;

/* The ordinal of a call among this dissector's calls in one dissection of
 * a frame: Go keeps results by (frame, ordinal), and a frame may hand over
 * several payloads (a reassembled PDU, then the rest of the segment).
 * Within one dissection each call sits at a deeper layer than the last
 * (pinfo->curr_layer_num); a call of the same frame at the same or a lower
 * layer begins a new dissection of it (tshark -2, a click in the GUI). */
static struct {
    uint32_t frame;
    unsigned layer;
    int ordinal;
    int info_set; /* the Info column holds this dissection's text */
} seen;

void goshim_stream_reset(void) { memset(&seen, 0, sizeof seen); }

static void begin_call(packet_info *pinfo) {
    uint32_t frame = pinfo_u32(pinfo, PINFO_NUM);
    unsigned layer = *((const uint8_t *)pinfo + layout->curr_layer_num);
    if (frame != seen.frame || layer <= seen.layer) {
        seen.frame = frame;
        seen.ordinal = 0;
        seen.info_set = 0;
    }
    seen.layer = layer;
    seen.ordinal++;
}

/* Appends "ADDRESS PORT" of an endpoint: the text goh2.lua makes with
 * tostring(pinfo.src) .. " " .. pinfo.src_port (names are never resolved
 * here; Go only compares them and reads the port). */
static size_t endpoint(char *buf, size_t cap, const ws_address *a, uint32_t port) {
    char host[64];
    const char *h = host;
    char *owned = NULL;
    int n;
    if (a->type == AT_IPv4 && a->len == 4 && a->data)
        inet_ntop(AF_INET, a->data, host, sizeof host);
    else if (a->type == AT_IPv6 && a->len == 16 && a->data)
        inet_ntop(AF_INET6, a->data, host, sizeof host);
    else
        h = owned = address_to_str(NULL, a);
    n = snprintf(buf, cap, "%s %u", h ? h : "", port);
    if (owned)
        wmem_free(NULL, owned);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static int push_error(lua_State *L, const char *msg, size_t n) {
    lua_pushnil(L);
    lua_pushlstring(L, msg, n);
    return 2;
}

/* One call for a payload, in C: the core of goshim.stream and of the
 * conversation dissector below. On the first pass it decodes the payload
 * with op, on later ones it fetches what Go kept; then it renders the
 * items into tree (their parent item pitem takes the expert infos), sets
 * the Protocol column to column and the Info column to Go's text
 * (appended after the frame's earlier calls), and asks TCP for more data
 * when Go needs it. */
struct call {
    int op;
    const char *column;
    tvbuff_t *tvb;
    packet_info *pinfo;
    proto_tree *tree;
    proto_item *pitem;
    int heuristic;
    /* out */
    int taken;          /* octets taken, 0: not this protocol's */
    struct reader links; /* at the links array, when has_links */
    int has_links;
    const char *msg; /* on an error: its message, msglen octets */
    size_t msglen;
};

enum { CALL_OK, CALL_GO_ERROR, CALL_MALFORMED };

static int call_stream(struct call *c) {
    packet_info *pinfo = c->pinfo;
    int64_t args[7], consumed, wanted, status;
    size_t outlen = 0;
    int st;
    unsigned len;
    struct reader r;
    uint32_t n, count;
    struct value info;
    const char *err;
    column_info *cinfo;

    c->taken = 0;
    c->has_links = 0;
    begin_call(pinfo);
    len = tvb_captured_length(c->tvb);
    if (!pinfo_visited(pinfo, layout)) {
        char key[2 * 80];
        size_t k;
        uint16_t can_desegment;
        memcpy(&can_desegment, (const uint8_t *)pinfo + layout->can_desegment, sizeof can_desegment);
        k = endpoint(key, sizeof key / 2, (const ws_address *)((const uint8_t *)pinfo + layout->src),
                     pinfo_u32(pinfo, layout->srcport));
        key[k++] = '\n';
        k += endpoint(key + k, sizeof key - k, (const ws_address *)((const uint8_t *)pinfo + layout->dst),
                      pinfo_u32(pinfo, layout->destport));
        args[0] = c->heuristic;
        args[1] = can_desegment == 0;
        pinfo_time(pinfo, &args[2], &args[3]);
        args[4] = pinfo_u32(pinfo, PINFO_NUM);
        args[5] = seen.ordinal;
        st = goshim_call(c->op, args, 6, key, k, len ? tvb_get_ptr(c->tvb, 0, (int)len) : NULL, len, &outlen);
    } else {
        args[0] = c->op;
        args[1] = pinfo_u32(pinfo, PINFO_NUM);
        args[2] = seen.ordinal;
        st = goshim_call(GP_OP_FETCH, args, 3, "", 0, NULL, 0, &outlen);
        if (st == GP_NOT_FOUND)
            return CALL_OK; /* not ours on the first pass either */
    }
    if (st == -1) {
        c->msg = "goshim: result too large";
        c->msglen = strlen(c->msg);
        return CALL_GO_ERROR;
    }
    if (st != GP_OK) {
        c->msg = (const char *)goshim_buf;
        c->msglen = outlen;
        return CALL_GO_ERROR;
    }

    c->msg = "malformed result";
    r.p = goshim_buf;
    r.end = goshim_buf + outlen;
    if (!need(&r, 5) || r.p[0] != TAG_ARRAY || (n = rd32(r.p + 1)) < 6)
        return CALL_MALFORMED;
    r.p += 5;
    if (!goshim_read_int(&r, &status) || !goshim_read_int(&r, &consumed) || !goshim_read_int(&r, &wanted))
        return CALL_MALFORMED;
    if (status == STATUS_NOT_MINE)
        return CALL_OK;
    if (!need(&r, 5) || r.p[0] != TAG_ARRAY)
        return CALL_MALFORMED;
    count = rd32(r.p + 1);
    goshim_cursor.p = r.p + 5;
    goshim_cursor.end = r.end;
    if (!goshim_render_items(pinfo, c->tree, c->pitem, c->tvb, count, &err)) {
        c->msg = err;
        return CALL_MALFORMED;
    }
    r = goshim_cursor;
    if (!goshim_read_value(&r, &info) || (info.tag != TAG_NIL && info.tag != TAG_STRING) ||
        !goshim_skip_value(&r, 1))
        return CALL_MALFORMED;

    if (wanted != 0) {
        int off = (int)consumed;
        uint32_t more = wanted > 0 && wanted < DESEGMENT_ONE_MORE_SEGMENT ? (uint32_t)wanted : DESEGMENT_ONE_MORE_SEGMENT;
        memcpy((uint8_t *)pinfo + layout->desegment_offset, &off, sizeof off);
        memcpy((uint8_t *)pinfo + layout->desegment_len, &more, sizeof more);
    }
    memcpy(&cinfo, (const uint8_t *)pinfo + PINFO_CINFO, sizeof cinfo);
    if (info.tag == TAG_STRING && cinfo) {
        /* The text is not NUL-terminated in the result. */
        char stack[512], *text = info.n + 3 <= sizeof stack ? stack : malloc(info.n + 3);
        if (text) {
            memcpy(text, ", ", 2);
            memcpy(text + 2, info.s, info.n);
            text[info.n + 2] = 0;
            col_add_str(cinfo, layout->col_protocol, c->column);
            if (seen.info_set) {
                col_append_str(cinfo, layout->col_info, text);
            } else {
                col_add_str(cinfo, layout->col_info, text + 2);
                seen.info_set = 1;
            }
            if (text != stack)
                free(text);
        }
    }
    if (n >= 7) {
        /* links: an array of frame numbers */
        if (!need(&r, 5) || r.p[0] != TAG_ARRAY)
            return CALL_MALFORMED;
        c->links = r;
        c->has_links = 1;
    }
    c->taken = (int)len;
    return CALL_OK;
}

/* goshim.stream(op, column, tvb, pinfo, tree, heuristic) -> octets taken
 * (0: not this protocol's) [, links] | nil, message: call_stream from Lua.
 * links, only on later passes: the frames where gRPC messages that this
 * payload carried part of were reassembled (the Lua side adds them). Go's
 * internal errors come back as nil and a message; a malformed result
 * raises an error, as render() does. Only when layout() is true. */
static int l_stream(lua_State *L) {
    struct call c;
    struct lua_tvb *tvb;
    struct lua_pinfo *lp;
    struct lua_treeitem *ti;

    if (!layout)
        return luaL_error(L, "goshim.stream: this Wireshark's packet_info is not known (check layout() first)");
    c.op = (int)luaL_checkinteger(L, 1);
    c.column = luaL_checkstring(L, 2);
    tvb = *(struct lua_tvb **)luaL_checkudata(L, 3, "Tvb");
    lp = *(struct lua_pinfo **)luaL_checkudata(L, 4, "Pinfo");
    ti = *(struct lua_treeitem **)luaL_checkudata(L, 5, "TreeItem");
    c.heuristic = lua_toboolean(L, 6);
    if (!tvb || !tvb->ws_tvb || !lp || !lp->ws_pinfo || !ti)
        return luaL_error(L, "goshim.stream: bad arguments");
    c.tvb = tvb->ws_tvb;
    c.pinfo = lp->ws_pinfo;
    c.tree = ti->tree;
    c.pitem = ti->item;
    switch (call_stream(&c)) {
    case CALL_GO_ERROR:
        return push_error(L, c.msg, c.msglen);
    case CALL_MALFORMED:
        return luaL_error(L, "goshim.stream: %s", c.msg);
    }
    lua_pushinteger(L, c.taken);
    if (c.taken == 0 || !c.has_links)
        return 1;
    if (!goshim_push_value(L, &c.links, 1))
        return luaL_error(L, "goshim.stream: malformed result");
    return 2;
}

/* goshim.layout() -> whether stream() works in this Wireshark (layout.c
 * knows its packet_info). GOTCPDUMP_LUA_DISSECTOR set to a non-empty value
 * says false, so that tests can compare the Lua path. */
static int l_layout(lua_State *L) {
    const char *force_lua = getenv("GOTCPDUMP_LUA_DISSECTOR");
    layout = NULL;
    if (!(force_lua && *force_lua) && tvb_get_ptr && tvb_captured_length && col_add_str && col_append_str &&
        address_to_str && wmem_free && proto_tree_add_item)
        layout = goshim_layout();
    lua_pushboolean(L, layout != NULL);
    return 1;
}

int goshim_open_stream(lua_State *L) {
    lua_pushcfunction(L, l_stream);
    lua_setfield(L, -2, "stream");
    lua_pushcfunction(L, l_layout);
    lua_setfield(L, -2, "layout");
    return 0;
}
