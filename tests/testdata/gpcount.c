/* gpcount: an LD_PRELOAD library for the tests that counts the calls the
 * shim makes into libgoparser.so, by op, and the octets of data they pass.
 * It stands in for gp_call (goparser/capi/goparser.h), which the shim
 * imports: the dynamic linker binds the shim to the first definition,
 * this one, which forwards to libgoparser's own (GPCOUNT_LIB, the path of
 * the loaded libgoparser.so). At exit it writes "op calls octets" lines
 * to GPCOUNT_OUT. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*gp_call_fn)(int, int64_t *, int, char *, size_t, uint8_t *, size_t, uint8_t *, size_t, size_t *);

#define OPS 64
static unsigned long calls[OPS];
static unsigned long long octets[OPS];

int gp_call(int op, int64_t *args, int nargs, char *key, size_t keylen, uint8_t *data, size_t datalen, uint8_t *out,
            size_t outcap, size_t *outlen);

int gp_call(int op, int64_t *args, int nargs, char *key, size_t keylen, uint8_t *data, size_t datalen, uint8_t *out,
            size_t outcap, size_t *outlen) {
    static gp_call_fn real;
    if (!real) {
        const char *lib = getenv("GPCOUNT_LIB");
        void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_NOLOAD) : NULL;
        if (h)
            real = (gp_call_fn)dlsym(h, "gp_call");
        if (!real) {
            fprintf(stderr, "gpcount: no gp_call in GPCOUNT_LIB=%s\n", lib ? lib : "(unset)");
            abort();
        }
    }
    if (op >= 0 && op < OPS) {
        calls[op]++;
        octets[op] += datalen;
    }
    return real(op, args, nargs, key, keylen, data, datalen, out, outcap, outlen);
}

__attribute__((destructor)) static void report(void) {
    const char *name = getenv("GPCOUNT_OUT");
    FILE *f;
    int any = 0;
    for (int op = 0; op < OPS; op++)
        any |= calls[op] != 0;
    /* The processes that only exec tshark (chroot, env) call nothing. */
    if (!any || !name || !(f = fopen(name, "w")))
        return;
    for (int op = 0; op < OPS; op++)
        if (calls[op])
            fprintf(f, "%d %lu %llu\n", op, calls[op], octets[op]);
    fclose(f);
}
