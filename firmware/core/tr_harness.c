/* The protocol core (see tr_harness.h). */
#include "tr_harness.h"

#include <string.h>

#include "tr_format.h"
#include "tr_model_port.h"
#include "tr_port.h"

#ifndef TR_DB_CAPACITY
#define TR_DB_CAPACITY 27648 /* the largest reference input (vww01, 96x96x3) */
#endif

static char command[TR_COMMAND_CHARS + 1];
static size_t command_length;
static int parser_enabled;

static uint8_t db[TR_DB_CAPACITY];
static size_t db_size; /* announced by `db load`; 0: no load in progress */
static size_t db_position;
static int have_results;

void tr_harness_print(const char *text)
{
    tr_port_serial_write(text, strlen(text));
}

void tr_harness_line(const char *text)
{
    tr_harness_print(text);
    tr_port_serial_write("\r\n", 2);
}

/* e-[<text><number><tail>] and similar lines built from pieces, without printf */
static void line3(const char *head, const char *middle, const char *tail)
{
    tr_harness_print(head);
    tr_harness_print(middle);
    tr_harness_line(tail);
}

static void timestamp(void)
{
#if TR_ENERGY_MODE
    tr_port_timestamp_pin(0);
    tr_port_delay_us(TR_PULSE_HOLD_US);
    tr_port_timestamp_pin(1);
#else
    char digits[12];
    tr_format_u32(digits, tr_port_timer_us());
    line3("m-lap-us-", digits, "");
#endif
}

static size_t db_limit(void)
{
    const size_t size = tr_model_input_bytes();
    return size < TR_DB_CAPACITY ? size : TR_DB_CAPACITY;
}

void tr_harness_init(void)
{
    parser_enabled = 0;
    command_length = 0;
    db_size = db_position = 0;
    have_results = 0;
    tr_harness_line(TR_ENERGY_MODE ? "m-timestamp-mode-energy" : "m-timestamp-mode-performance");
    timestamp(); /* energy builds: leaves the pin idle-high, as the reference does */
    tr_model_init();
    tr_harness_line("m-init-done");
    parser_enabled = 1;
    tr_harness_line("m-ready");
}

/* -- commands -------------------------------------------------------------------------------- */
/* The reference firmware's help text, line for line, with its spelling and its W=0 (the
 * default warm-up is 10 there as here). */
static void help(void)
{
    static const char *const text[] = {
        TR_FIRMWARE_VERSION,
        "",
        "help         : Print this information",
        "name         : Print the name of the device",
        "timestsamp   : Generate a timetsamp",
        "db SUBCMD    : Manipulate a generic byte buffer",
        "  load N     : Allocate N bytes and set load counter",
        "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes",
        "  print [N=16] [offset=0]",
        "             : Print N bytes at offset as hex",
        "infer N [W=0]: Load input, execute N inferences after W warmup loops",
        "results      : Return the result fp32 vector",
    };
    size_t i;
    for (i = 0; i < sizeof text / sizeof text[0]; ++i) {
        tr_harness_line(text[i]);
    }
}

static void db_load(const char *count)
{
    char digits[12];
    int32_t size;
    if (count == NULL) {
        tr_harness_line("e-[Command 'db load' requires the # of bytes]");
        return;
    }
    size = tr_parse_int(count);
    if (size <= 0) {
        tr_harness_line("e-[Command 'db load' must be >0 bytes]");
        return;
    }
    if ((uint32_t)size > db_limit()) {
        char limit[12];
        db_size = db_position = 0; /* the previous load is abandoned; hex now needs a new load */
        tr_format_i32(digits, size);
        tr_format_u32(limit, (uint32_t)db_limit());
        tr_harness_print("e-[Supplied buffer size ");
        tr_harness_print(digits);
        line3(" exceeds maximum of ", limit, "]");
        return;
    }
    db_size = (size_t)size;
    db_position = 0;
    tr_format_i32(digits, size);
    line3("m-[Expecting ", digits, " bytes]");
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void db_hex(const char *digits)
{
    const size_t length = strlen(digits);
    size_t i;
    if (db_size == 0) {
        tr_harness_line("e-[Command 'db load' must come first]");
        return;
    }
    if (length % 2) {
        tr_harness_line("e-[Insufficent number of hex digits]"); /* sic: the reference spelling */
        return;
    }
    if (db_position >= db_size) {
        char size[12];
        tr_format_u32(size, (uint32_t)db_size);
        line3("e-[All ", size, " bytes are already loaded]");
        return;
    }
    for (i = 0; i < length; i += 2) {
        const int high = hex_value(digits[i]);
        const int low = hex_value(digits[i + 1]);
        if (high < 0 || low < 0) {
            char pair[3];
            pair[0] = digits[i];
            pair[1] = digits[i + 1];
            pair[2] = '\0';
            line3("e-[Invalid hex digit '", pair, "']"); /* bytes before it stay stored */
            return;
        }
        db[db_position++] = (uint8_t)(high * 16 + low);
        if (db_position == db_size) {
            tr_harness_line("m-load-done"); /* digits after the last byte are ignored */
            return;
        }
    }
}

static void db_print(void)
{
    static const char hex[] = "0123456789abcdef";
    char row[8 * 3 + 16];
    size_t i, n = 0;
    for (i = 0; i < db_size; ++i) {
        const uint8_t value = i < db_position ? db[i] : 0;
        if (i % 8 == 0) {
            memcpy(row, "m-buffer-", 9);
            n = 9;
        } else {
            row[n++] = '-';
        }
        row[n++] = hex[value >> 4];
        row[n++] = hex[value & 15];
        if (i % 8 == 7 || i + 1 == db_size) {
            row[n] = '\0';
            tr_harness_line(row);
        }
    }
    if (db_size % 8) {
        tr_harness_line(""); /* the reference ends a short last row with an extra blank line */
    }
}

static void results(void)
{
    char text[512];
    if (!have_results) {
        tr_harness_line("e-[No inference has run yet]");
        return;
    }
    tr_model_results(text, sizeof text);
    line3("m-results-[", text, "]");
}

static void infer(const char *iterations_text, const char *warmup_text)
{
    char digits[12];
    int32_t iterations = 1, warmup = 10, i;
    if (iterations_text != NULL) {
        iterations = tr_parse_int(iterations_text);
        if (iterations <= 0) {
            tr_harness_line("e-[Inference iterations must be >0]");
            return;
        }
    }
    if (warmup_text != NULL) {
        warmup = tr_parse_int(warmup_text);
        if (warmup < 0) {
            tr_harness_line("e-[Inference warmup must be >=0]");
            return;
        }
    }
    if (db_size != tr_model_input_bytes() || db_position != db_size) {
        char expected[12];
        tr_format_u32(digits, (uint32_t)db_position);
        tr_format_u32(expected, (uint32_t)tr_model_input_bytes());
        tr_harness_print("e-[Input db has ");
        tr_harness_print(digits);
        line3(" bytes, expected ", expected, "]");
        return;
    }
    tr_model_load_input(db);
    tr_format_i32(digits, warmup);
    line3("m-warmup-start-", digits, "");
    for (i = 0; i < warmup; ++i) {
        tr_model_infer();
    }
    tr_harness_line("m-warmup-done");
    tr_format_i32(digits, iterations);
    line3("m-infer-start-", digits, "");
    timestamp();
    for (i = 0; i < iterations; ++i) {
        tr_model_infer();
    }
    timestamp();
    have_results = 1;
    tr_harness_line("m-infer-done");
    results();
}

/* strtok(" ") without its hidden state: the next space-separated token, or NULL */
static char *next_token(char **cursor)
{
    char *start = *cursor;
    while (*start == ' ') {
        ++start;
    }
    if (*start == '\0') {
        *cursor = start;
        return NULL;
    }
    *cursor = start;
    while (**cursor != '\0' && **cursor != ' ') {
        ++*cursor;
    }
    if (**cursor == ' ') {
        *(*cursor)++ = '\0';
    }
    return start;
}

static void dispatch(char *text)
{
    char *cursor = text;
    const char *name = next_token(&cursor);
    if (name == NULL) {
        tr_harness_line("e-[Empty command]"); /* the reference dereferences NULL here */
    } else if (strcmp(name, "name") == 0) {
        tr_harness_line("m-name-dut-[" TR_VENDOR "]");
    } else if (strcmp(name, "timestamp") == 0) {
        timestamp();
    } else if (strcmp(name, "profile") == 0) {
        tr_harness_line("m-profile-[" TR_FIRMWARE_VERSION "]");
        line3("m-model-[", tr_model_id(), "]");
    } else if (strcmp(name, "help") == 0) {
        help();
    } else if (strcmp(name, "db") == 0) {
        const char *sub = next_token(&cursor);
        if (sub == NULL) {
            tr_harness_line("e-[Command 'db' requires a subcommand]");
        } else if (strcmp(sub, "load") == 0) {
            db_load(next_token(&cursor));
        } else if (strcmp(sub, "print") == 0) {
            db_print();
        } else {
            db_hex(sub);
        }
    } else if (strcmp(name, "infer") == 0) {
        const char *iterations = next_token(&cursor);
        infer(iterations, iterations ? next_token(&cursor) : NULL);
    } else if (strcmp(name, "results") == 0) {
        results();
    } else {
        line3("e-[Unknown command: ", name, "]");
    }
    tr_harness_line("m-ready");
}

void tr_harness_receive(char byte)
{
    if (byte == '%') {
        command[command_length] = '\0';
        command_length = 0;
        if (parser_enabled) { /* a command completed during boot is ignored, as in the reference */
            dispatch(command);
        }
    } else if (command_length < TR_COMMAND_CHARS) {
        command[command_length++] = byte;
    }
}
