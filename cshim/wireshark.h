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
 *   every version, and whose port and frame_data members postdissector.c
 *   reads only for the versions whose headers it was checked against. */
#ifndef GOSHIM_WIRESHARK_H
#define GOSHIM_WIRESHARK_H

#include <stdint.h>
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

/* render.c: renders count items at the cursor under tree (its item, where
 * expert infos go, is pitem); 0 with *err set on malformed items. */
int goshim_render_items(packet_info *pinfo, proto_tree *tree, proto_item *pitem, tvbuff_t *tvb, uint32_t count,
                        const char **err);

#endif
