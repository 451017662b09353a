/* The parts of libwireshark that the shim uses, declared here instead of
 * taken from Wireshark's headers: the shim is built once per Lua ABI, not
 * per Wireshark version, and links no libwireshark. The functions are weak
 * references that the Wireshark process loading the plugin satisfies; in a
 * plain Lua interpreter they are NULL, and the functions that need them
 * refuse. Their signatures are the same in Wireshark 4.0 and 4.4.
 *
 * Some things are not functions and are read from layouts instead
 * (make test-ws44 runs the tshark tests on 4.4 as make test-tshark does on
 * 4.0):
 * - wslua's objects: Tvb, Pinfo and TreeItem userdata point to structs
 *   that begin with the tvbuff_t, packet_info, and proto_item and
 *   proto_tree pointers, and ProtoExpert's begins with its expert_field;
 * - the generated and hidden flags, which proto.h sets inline in the
 *   field_info of a proto_node (render.c checks the layout on the first
 *   item Wireshark adds, and sets no flag if it differs);
 * - packet_info, whose first members (frame number, time) are the same in
 *   every version, and whose other members the shim reads and writes only
 *   for the versions whose headers layout.c lists. */
#ifndef GOSHIM_WIRESHARK_H
#define GOSHIM_WIRESHARK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef struct ws_field_info {
    const void *hfinfo;
    int start, length, appendix_start, appendix_length, tree_type;
    unsigned flags;
} ws_field_info;

typedef struct ws_node {
    struct ws_node *first_child, *last_child, *next, *parent;
    ws_field_info *finfo;
} proto_node;

typedef proto_node proto_tree;
typedef proto_node proto_item;
typedef struct tvbuff tvbuff_t;
typedef struct _packet_info packet_info;
typedef struct {
    int ei, hf;
} expert_field;
typedef struct {
    time_t secs;
    int nsecs;
} nstime_t;

#define FI_HIDDEN 0x1u
#define FI_GENERATED 0x2u
#define ENC_NA 0 /* also ENC_BIG_ENDIAN and ENC_ASCII, as TreeItem:add uses */

#define WEAK __attribute__((weak))
extern proto_item *proto_tree_add_item(proto_tree *, int, tvbuff_t *, int, int, unsigned) WEAK;
extern proto_item *proto_tree_add_uint(proto_tree *, int, tvbuff_t *, int, int, uint32_t) WEAK;
extern proto_item *proto_tree_add_int(proto_tree *, int, tvbuff_t *, int, int, int32_t) WEAK;
extern proto_item *proto_tree_add_uint64(proto_tree *, int, tvbuff_t *, int, int, uint64_t) WEAK;
/* 4.0 takes a 32-bit value, 4.4 a 64-bit one: passed in a register, a
 * 0 or 1 reads the same either way. */
extern proto_item *proto_tree_add_boolean(proto_tree *, int, tvbuff_t *, int, int, uint64_t) WEAK;
extern proto_item *proto_tree_add_double(proto_tree *, int, tvbuff_t *, int, int, double) WEAK;
extern proto_item *proto_tree_add_string(proto_tree *, int, tvbuff_t *, int, int, const char *) WEAK;
extern proto_item *proto_tree_add_bytes_with_length(proto_tree *, int, tvbuff_t *, int, int, const uint8_t *,
                                                    int) WEAK;
extern proto_item *proto_tree_add_time(proto_tree *, int, tvbuff_t *, int, int, const nstime_t *) WEAK;
extern void proto_item_set_text(proto_item *, const char *, ...) WEAK;
extern void proto_item_append_text(proto_item *, const char *, ...) WEAK;
extern proto_tree *proto_item_add_subtree(proto_item *, int) WEAK;
extern void proto_register_subtree_array(int *const *, int) WEAK;
extern int proto_registrar_get_id_byname(const char *) WEAK;
extern proto_item *expert_add_info_format(packet_info *, proto_item *, expert_field *, const char *, ...) WEAK;
extern proto_item *expert_add_info(packet_info *, proto_item *, expert_field *) WEAK;
extern tvbuff_t *tvb_new_child_real_data(tvbuff_t *, const uint8_t *, unsigned, int) WEAK;
extern void tvb_set_free_cb(tvbuff_t *, void (*)(void *)) WEAK;
extern void add_new_data_source(packet_info *, tvbuff_t *, const char *) WEAK;
extern unsigned tvb_captured_length(const tvbuff_t *) WEAK;
extern unsigned tvb_reported_length(const tvbuff_t *) WEAK;

/* The first members of wslua's objects. */
struct lua_tvb {
    tvbuff_t *ws_tvb;
};
struct lua_pinfo {
    packet_info *ws_pinfo;
};
struct lua_treeitem {
    proto_item *item;
    proto_tree *tree;
};


typedef int (*dissector_t)(tvbuff_t *, packet_info *, proto_tree *, void *);
typedef struct dissector_handle *dissector_handle_t;
extern dissector_handle_t create_dissector_handle(dissector_t, int) WEAK;
extern void register_postdissector(dissector_handle_t) WEAK;
extern int proto_get_id_by_filter_name(const char *) WEAK;
extern const uint8_t *tvb_get_ptr(tvbuff_t *, int, int) WEAK;
extern void epan_get_version_number(int *, int *, int *) WEAK;
typedef struct _protocol protocol_t;
extern protocol_t *find_protocol_by_id(int) WEAK;
/* gboolean in 4.0, bool in 4.4: declared bool, which reads only the low
 * octet of the return register, 0 or 1 in both. */
extern _Bool proto_is_protocol_enabled(const protocol_t *) WEAK;
extern const char *proto_get_protocol_short_name(const protocol_t *) WEAK;
/* Whether tree shows, or a filter, column or tap uses, the field (for a
 * protocol: any of its fields); gboolean/bool as above. */
extern _Bool proto_field_is_referenced(proto_tree *, int) WEAK;
/* Sets whether tree is visible (printed), returning what it was; the
 * argument is gboolean in 4.0 and bool in 4.4, so it is passed as an int
 * of 0 or 1, and the result is read as above. */
extern _Bool proto_tree_set_visible(proto_tree *, int) WEAK;
/* A tap's id, 0 when none has the name; whether one listens to it
 * (gboolean/bool as above). */
extern int find_tap_id(const char *) WEAK;
extern _Bool have_tap_listener(int) WEAK;
/* A conversation (what pinfo.conversation = proto does in Lua). */
typedef struct conversation conversation_t;
extern conversation_t *find_or_create_conversation(packet_info *) WEAK;
extern void conversation_set_dissector(conversation_t *, dissector_handle_t) WEAK;

/* The same in every version: const char *current_proto; column_info
 * *cinfo; guint32 presence_flags; guint32 num; nstime_t abs_ts. */
#define PINFO_CURRENT_PROTO 0
#define PINFO_CINFO 8
#define PINFO_NUM 20
#define PINFO_ABS_TS 24

/* Where packet_info and frame_data keep what the shim uses, and the
 * column numbers, in one Wireshark version (layout.c). */
/* The leading members of what TCP passes its subdissectors as data
 * (struct tcpinfo, epan/dissectors/packet-tcp.h, the same from 3.x to 4.4;
 * its later members changed type). */
struct tcpinfo {
    uint32_t seq;    /* the payload's first octet */
    uint32_t nxtseq; /* the octet after the segment */
};

struct pinfo_layout {
    int major, minor;
    size_t fd, ptype, srcport, destport; /* in packet_info */
    size_t flags;                        /* struct { guint32 in_error_pkt:1; ... } */
    size_t visited_byte;                 /* in frame_data */
    unsigned visited_bit;
    size_t src, dst;                  /* address: int type, int len, const void *data */
    size_t can_desegment;             /* guint16 */
    size_t desegment_offset, desegment_len; /* int, guint32 */
    size_t curr_layer_num;            /* guint8 */
    int col_protocol, col_info;
};

/* The layout of this Wireshark, or NULL when layout.c does not know it
 * (or outside Wireshark). */
const struct pinfo_layout *goshim_layout(void);

static inline uint32_t pinfo_u32(const packet_info *pinfo, size_t off) {
    uint32_t v;
    memcpy(&v, (const uint8_t *)pinfo + off, sizeof v);
    return v;
}

/* Whether Wireshark has dissected the frame before (pinfo.visited). */
static inline int pinfo_visited(const packet_info *pinfo, const struct pinfo_layout *l) {
    const uint8_t *fd;
    memcpy(&fd, (const uint8_t *)pinfo + l->fd, sizeof fd);
    return fd && (fd[l->visited_byte] >> l->visited_bit & 1);
}

/* Whether the dissection is inside an error packet (pinfo.in_error_pkt):
 * a TCP segment that an ICMP error quotes, not one of the connection's. */
static inline int pinfo_in_error_pkt(const packet_info *pinfo, const struct pinfo_layout *l) {
    return pinfo_u32(pinfo, l->flags) & 1;
}

/* Makes name pinfo's current protocol (pinfo.current_proto, under which
 * Wireshark files the expert infos added meanwhile) and returns the one it
 * replaces, for putting back. */
static inline const char *pinfo_swap_proto(packet_info *pinfo, const char *name) {
    const char *was;
    memcpy(&was, (const uint8_t *)pinfo + PINFO_CURRENT_PROTO, sizeof was);
    memcpy((uint8_t *)pinfo + PINFO_CURRENT_PROTO, &name, sizeof name);
    return was;
}

/* The frame's time (pinfo.abs_ts). */
static inline void pinfo_time(const packet_info *pinfo, int64_t *secs, int64_t *nsecs) {
    time_t s;
    int ns;
    memcpy(&s, (const uint8_t *)pinfo + PINFO_ABS_TS, sizeof s);
    memcpy(&ns, (const uint8_t *)pinfo + PINFO_ABS_TS + sizeof s, sizeof ns);
    *secs = s;
    *nsecs = ns;
}

typedef struct {
    int type, len;
    const void *data;
    void *priv;
} ws_address;
#define AT_IPv4 2 /* address_type, the same in 4.0 and 4.4 */
#define AT_IPv6 3
#define DESEGMENT_ONE_MORE_SEGMENT 0x0fffffff

typedef struct _column_info column_info;
extern void col_add_str(column_info *, int, const char *) WEAK;
extern void col_append_str(column_info *, int, const char *) WEAK;
typedef struct _wmem_allocator_t wmem_allocator_t;
extern char *address_to_str(wmem_allocator_t *, const ws_address *) WEAK;
extern void wmem_free(wmem_allocator_t *, void *) WEAK;

/* render.c: marks item (added under parent at off, len) with FI_GENERATED
 * or FI_HIDDEN, where field_info has the layout declared above. */
void goshim_set_flags(proto_tree *parent, proto_item *item, int off, int len, unsigned flags);

/* render.c: an error as expert info ei, prefix then the n octets of msg
 * (cut to 255 octets), on an item of proto covering no bytes at the root
 * of tree, where Wireshark keeps it, so that it is shown. */
void goshim_error_item(packet_info *pinfo, proto_tree *tree, tvbuff_t *tvb, int proto, expert_field *ei,
                       const char *prefix, const char *msg, size_t n);

/* render.c: whether tree is visible (printed); needs proto_tree_set_visible. */
int goshim_tree_visible(proto_tree *tree);

/* render.c: renders count items at the cursor under tree (its item, where
 * expert infos go, is pitem); 0 with *err set on malformed items. */
int goshim_render_items(packet_info *pinfo, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb, uint32_t count,
                        const char **err);

#endif
