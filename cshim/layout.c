/* layout: where packet_info keeps what the shim reads from C, for the
 * Wireshark versions whose headers the offsets were taken from
 * (libwireshark-dev 4.0.17 and 4.4.19 on x86-64; layout_probe.c prints
 * them for another version). On any other version goshim_layout() returns
 * NULL, and the Lua scripts do the same work through Wireshark's Lua API
 * instead. */
#include <stddef.h>

#include "wireshark.h"

static const struct pinfo_layout layouts[] = {
    {.major = 4, .minor = 0, .fd = 56, .flags = 252, .ptype = 256, .srcport = 260, .destport = 264, .visited_byte = 42,
     .visited_bit = 3, .src = 184, .dst = 208, .can_desegment = 304, .desegment_offset = 308,
     .desegment_len = 312, .curr_layer_num = 352, .col_protocol = 37, .col_info = 28},
    {.major = 4, .minor = 4, .fd = 80, .flags = 276, .ptype = 280, .srcport = 284, .destport = 288, .visited_byte = 49,
     .visited_bit = 3, .src = 208, .dst = 232, .can_desegment = 328, .desegment_offset = 332,
     .desegment_len = 336, .curr_layer_num = 376, .col_protocol = 34, .col_info = 25},
};

const struct pinfo_layout *goshim_layout(void) {
    int major = 0, minor = 0, micro = 0;
    size_t i;
    if (!epan_get_version_number)
        return NULL;
    epan_get_version_number(&major, &minor, &micro);
    for (i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (layouts[i].major == major && layouts[i].minor == minor)
            return &layouts[i];
    return NULL;
}
