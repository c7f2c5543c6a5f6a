/* Reads float32 values (raw little-endian bytes) on stdin and prints tr_format_fixed3 of each
 * on its own line; with the argument "int", reads NUL-terminated strings and prints
 * tr_parse_int of each. For tests/test_harness_core.py. */
#include <stdio.h>
#include <string.h>

#include "tr_format.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "int") == 0) {
        char text[256];
        size_t n = 0;
        int c;
        while ((c = getchar()) != EOF) {
            text[n] = (char)c;
            if (c == '\0' || n == sizeof text - 1) {
                text[n] = '\0';
                printf("%ld\n", (long)tr_parse_int(text));
                n = 0;
            } else {
                ++n;
            }
        }
    } else {
        float value;
        char out[32];
        while (fread(&value, sizeof value, 1, stdin) == 1) {
            tr_format_fixed3(out, value);
            puts(out);
        }
    }
    return 0;
}
