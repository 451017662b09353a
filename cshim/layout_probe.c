/* Prints the packet_info offsets and column numbers that layout.c lists,
 * for the Wireshark whose headers it is built against. Not part of the
 * shim; to add a version to layout.c, with that version's
 * libwireshark-dev, libwiretap-dev, libwsutil-dev and libglib2.0-dev:
 *
 *   cc $(pkg-config --cflags wireshark) -o /tmp/probe cshim/layout_probe.c && /tmp/probe
 */
#include <stddef.h>
#include <stdio.h>

#include <ws_version.h>

#include <epan/column-info.h>
#include <epan/packet.h>

#define OFF(m) printf("." #m " = %zu, ", offsetof(packet_info, m))

int main(void) {
    frame_data fd = {0};
    unsigned char *p = (unsigned char *)&fd;
    size_t i;
    int bit;
    printf("{.major = %d, .minor = %d, ", WIRESHARK_VERSION_MAJOR, WIRESHARK_VERSION_MINOR);
    OFF(fd);
    OFF(flags);
    OFF(ptype);
    OFF(srcport);
    OFF(destport);
    /* visited is a bit-field: find it by setting it. */
    fd.visited = 1;
    for (i = 0; i < sizeof fd; i++)
        for (bit = 0; bit < 8; bit++)
            if (p[i] >> bit & 1)
                printf(".visited_byte = %zu, .visited_bit = %d, ", i, bit);
    OFF(src);
    OFF(dst);
    OFF(can_desegment);
    OFF(desegment_offset);
    OFF(desegment_len);
    OFF(curr_layer_num);
    printf(".col_protocol = %d, .col_info = %d},\n", COL_PROTOCOL, COL_INFO);
    return 0;
}
