# The mps2-an386 port: a Cortex-M4 image for QEMU (qemu-system-arm -M mps2-an386; the full
# command line is in port.c). QEMU_FAULT_TEST=1 builds an image that faults right after boot.
QEMU_PORT := $(FIRMWARE)/ports/qemu-mps2-an386
CC := arm-none-eabi-gcc
IMAGE := tr-dut.elf
SOURCES += $(QEMU_PORT)/startup.c $(QEMU_PORT)/port.c
CFLAGS += -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -I$(QEMU_PORT)
ifeq ($(QEMU_FAULT_TEST),1)
CFLAGS += -DTR_QEMU_FAULT_TEST
endif
LDFLAGS += -nostartfiles --specs=nano.specs -T$(QEMU_PORT)/link.ld -Wl,--gc-sections
