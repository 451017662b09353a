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
    /* TCP's sequence number of the payload's first octet, when has_seq */
    int has_seq;
    uint32_t seq;
    /* out */
    int taken;          /* octets taken, 0: not this protocol's */
    struct reader links; /* at the links array, when has_links */
    int has_links;
    const char *msg; /* on an error: its message, msglen octets */
    size_t msglen;
};

enum { CALL_OK, CALL_GO_ERROR, CALL_MALFORMED };

/* Whether a first pass over a frame prints its tree, which means that no later
 * pass will come (GP_OP_H2's "no later pass", goparser.h): Wireshark and
 * tshark -2 make their first pass with an invisible tree or none, and only
 * tshark's single pass shows the tree (-V, pdml, json; -T fields on 4.0). */
static int first_pass_prints(proto_tree *tree) {
    return tree && proto_tree_set_visible && goshim_tree_visible(tree);
}

static int call_stream(struct call *c) {
    packet_info *pinfo = c->pinfo;
    int64_t args[11], consumed, wanted, status;
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
    /* A segment that an ICMP error quotes is not the connection's next:
     * decoded, it would move the connection's state (its HPACK table, the
     * sequence number expected next) as if the peer had sent it again. */
    if (pinfo_in_error_pkt(pinfo, layout))
        return CALL_OK;
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
        args[6] = goshim_no_later_pass(first_pass_prints(c->tree));
        /* Octets a snap length cut off: Go looks for the next frame after them. */
        args[7] = (int64_t)tvb_reported_length(c->tvb) - (int64_t)len;
        /* No tree: with no later pass either, nothing will read the items. */
        args[8] = c->tree != NULL;
        args[9] = c->has_seq;
        args[10] = c->seq;
        st = goshim_call(c->op, args, 11, key, k, len ? tvb_get_ptr(c->tvb, 0, (int)len) : NULL, len, &outlen);
    } else {
        args[0] = c->op;
        args[1] = pinfo_u32(pinfo, PINFO_NUM);
        args[2] = seen.ordinal;
        /* The payload: Go renders only a result decoded from these octets. */
        st = goshim_call(GP_OP_FETCH, args, 3, "", 0, len ? tvb_get_ptr(c->tvb, 0, (int)len) : NULL, len, &outlen);
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
        /* links: an array of frame numbers (Go has them only for
         * payloads that carried data, so never when taken is 0) */
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
    c.has_seq = 0; /* Lua is not given TCP's data */
    c.seq = 0;
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

/* --- The conversation dissector ------------------------------------------
 *
 * goh2's TCP heuristic claims a connection by making a dissector its
 * conversation's. With goh2's Lua Proto there, every later payload of the
 * connection went through wslua before it reached goshim.stream: a Tvb, a
 * Pinfo and a TreeItem made for Lua (with a hidden item, _ws.lua.fake, in
 * the tree), a call into Lua, and their garbage later; a Lua dissector that
 * does nothing cost about 1.2 us a payload, 3% of tshark's time in the
 * gRPC benchmark. This handle does what goh2.lua's dissector does there,
 * in C: call_stream, Go's errors as an expert info, and the links of later
 * passes as add_links adds them. The heuristic itself, decrypted TLS and
 * the ports of the preference stay Lua's.
 *
 * The handle belongs to the protocol of the Lua state that made it:
 * Wireshark checks that it is enabled and lists it in the frame's
 * protocols, as for the Proto's own handle. A reload of the Lua plugins
 * closes the state (which unbinds the handle: its calls take nothing) and
 * makes a new state and protocol, whose script makes a new handle; the
 * conversations of the dissection before, which name the old handle, go
 * as Wireshark dissects the capture again, as they do for a Lua Proto's
 * handle. */
static struct {
    int bound;
    dissector_handle_t handle;
    int op;
    char column[16];
    int proto;
    expert_field *internal;
    int proto_links, hf_link, ett_links;
    char link_field[64]; /* hf_link's name: Lua registers fields after the scripts ran */
} conv;

/* Later passes: the frames where gRPC messages that the payload carried
 * part of were reassembled (links, at its array). The protocol's item goes
 * at the root of any tree, where Wireshark keeps every item (a filter on
 * gogrpc finds it), as add_links puts it; Wireshark fakes the links that
 * nothing reads. */
static void conv_links(proto_tree *tree, tvbuff_t *tvb, struct reader links) {
    uint32_t n = rd32(links.p + 1);
    proto_item *t;
    proto_tree *sub;
    if (conv.hf_link < 0)
        conv.hf_link = proto_registrar_get_id_byname(conv.link_field);
    if (conv.proto_links < 0 || conv.hf_link < 0 || n == 0)
        return;
    t = proto_tree_add_item(tree, conv.proto_links, tvb, 0, 0, ENC_NA);
    proto_item_set_text(t, "gRPC message fragment");
    sub = proto_item_add_subtree(t, conv.ett_links);
    links.p += 5;
    for (uint32_t i = 0; i < n; i++) {
        int64_t frame;
        if (!goshim_read_int(&links, &frame) || frame < 0 || frame > UINT32_MAX)
            break;
        goshim_set_flags(sub, proto_tree_add_uint(sub, conv.hf_link, tvb, 0, 0, (uint32_t)frame), 0, 0, FI_GENERATED);
    }
}

static int conv_dissect(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data) {
    struct call c;
    const struct tcpinfo *ti = data;
    if (!conv.bound)
        return 0;
    /* TCP hands its conversation dissectors a struct tcpinfo, whose seq is
     * the payload's first octet (of a reassembled PDU too); its end, nxtseq,
     * is that of the segment, which holds at least the payload. */
    c.has_seq = ti && ti->nxtseq - ti->seq >= tvb_captured_length(tvb);
    c.seq = c.has_seq ? ti->seq : 0;
    c.op = conv.op;
    c.column = conv.column;
    c.tvb = tvb;
    c.pinfo = pinfo;
    c.tree = tree;
    c.pitem = NULL; /* expert infos not on an item still count */
    c.heuristic = 0;
    /* Go's error, or a malformed result (an error in Lua, on the Lua
     * path): an expert info under an item of the protocol, as tcptw's
     * postdissector and common.failed report them. */
    switch (call_stream(&c)) {
    case CALL_GO_ERROR:
        goshim_error_item(pinfo, tree, tvb, conv.proto, conv.internal, "", c.msg, c.msglen);
        /* On a later pass the error is the fetch's (a result not kept):
         * the first pass took the payload, so no heuristic gets it, to
         * show the error again, and then Data. */
        return pinfo_visited(pinfo, layout) ? (int)tvb_captured_length(tvb) : 0;
    case CALL_MALFORMED:
        /* After a Lua error wslua says the Lua dissector took the whole
         * payload. */
        goshim_error_item(pinfo, tree, tvb, conv.proto, conv.internal, "goshim.stream: ", c.msg, strlen(c.msg));
        return (int)tvb_captured_length(tvb);
    }
    if (c.taken > 0 && c.has_links && tree)
        conv_links(tree, tvb, c.links);
    return c.taken;
}

static int conv_unbind(lua_State *L) {
    (void)L;
    conv.bound = 0;
    return 0;
}

/* goshim.conversation(proto, op, column, internal_error, links_proto,
 * links_field) -> whether claim() can make a conversation's dissector the
 * C one that calls op for the Lua protocol named proto (which keeps its
 * preferences, init and enabled state): false where layout() is false, or
 * GOTCPDUMP_LUA_CONVERSATION is set to a non-empty value (tests compare
 * the two). internal_error is the ProtoExpert for Go's errors; links_proto
 * and links_field name the protocol and FT_FRAMENUM field that later
 * passes' links go in. */
static int l_conversation(lua_State *L) {
    const char *force_lua = getenv("GOTCPDUMP_LUA_CONVERSATION");
    const char *name, *column, *links_proto, *links_field;
    static int ett = -1;
    void **ud;
    int op, proto;
    if (!layout || (force_lua && *force_lua) || !create_dissector_handle || !find_or_create_conversation ||
        !conversation_set_dissector || !proto_get_id_by_filter_name || !proto_registrar_get_id_byname ||
        !proto_item_set_text || !proto_item_add_subtree || !proto_tree_add_uint ||
        !expert_add_info_format || !proto_register_subtree_array) {
        lua_pushboolean(L, 0);
        return 1;
    }
    name = luaL_checkstring(L, 1);
    op = (int)luaL_checkinteger(L, 2);
    column = luaL_checkstring(L, 3);
    ud = luaL_checkudata(L, 4, "ProtoExpert");
    links_proto = luaL_checkstring(L, 5);
    links_field = luaL_checkstring(L, 6);
    if (conv.bound)
        return luaL_error(L, "goshim.conversation: already bound");
    if ((proto = proto_get_id_by_filter_name(name)) < 0)
        return luaL_error(L, "goshim.conversation: no protocol %s", name);
    if (strlen(column) >= sizeof conv.column || strlen(links_field) >= sizeof conv.link_field)
        return luaL_error(L, "goshim.conversation: name too long");
    if (ett < 0) {
        int *etts[] = {&ett};
        proto_register_subtree_array(etts, 1);
    }
    conv.op = op;
    conv.proto = proto;
    memcpy(conv.column, column, strlen(column) + 1);
    conv.internal = (expert_field *)*ud;
    conv.proto_links = proto_get_id_by_filter_name(links_proto);
    memcpy(conv.link_field, links_field, strlen(links_field) + 1);
    conv.hf_link = -1;
    conv.ett_links = ett;
    conv.handle = create_dissector_handle(conv_dissect, proto);
    /* The ProtoExpert lives as long as this state. */
    goshim_keep_until_close(L, 4, conv_unbind);
    conv.bound = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* goshim.claim(pinfo): makes the conversation dissector of pinfo's
 * connection the one conversation() made (pinfo.conversation = proto). */
static int l_claim(lua_State *L) {
    struct lua_pinfo *lp;
    if (!conv.bound)
        return luaL_error(L, "goshim.claim: no conversation dissector (check conversation() first)");
    lp = *(struct lua_pinfo **)luaL_checkudata(L, 1, "Pinfo");
    if (!lp || !lp->ws_pinfo)
        return luaL_error(L, "goshim.claim: bad arguments");
    conversation_set_dissector(find_or_create_conversation(lp->ws_pinfo), conv.handle);
    return 0;
}

/* goshim.layout() -> whether stream() works in this Wireshark (layout.c
 * knows its packet_info). GOTCPDUMP_LUA_DISSECTOR set to a non-empty value
 * says false, so that tests can compare the Lua path. */
static int l_layout(lua_State *L) {
    const char *force_lua = getenv("GOTCPDUMP_LUA_DISSECTOR");
    layout = NULL;
    if (!(force_lua && *force_lua) && tvb_get_ptr && tvb_captured_length && tvb_reported_length && col_add_str && col_append_str &&
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
    lua_pushcfunction(L, l_conversation);
    lua_setfield(L, -2, "conversation");
    lua_pushcfunction(L, l_claim);
    lua_setfield(L, -2, "claim");
    return 0;
}
