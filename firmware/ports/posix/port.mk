# The POSIX port: a native process behind a pseudo-terminal.
CC ?= cc
IMAGE := tr-dut
SOURCES += $(FIRMWARE)/ports/posix/main.c
LDFLAGS += -Wl,--gc-sections
