# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build and test the ACPI Generic Initiator / topology series on top of
# Debian 12's QEMU 7.2.  See README.md.

TOP   := $(CURDIR)

# The base: Debian 12's QEMU 7.2 on Debian 12, Debian 13's QEMU 10.0 on
# Debian 13; BASE=10.0 (or 7.2) picks one on either (mk/bases/).  Anywhere
# else, one line and stop, before anything is installed or fetched.
OS := $(shell . /etc/os-release 2>/dev/null && echo "$$ID $$VERSION_ID $$PRETTY_NAME")
ifeq ($(wordlist 1,2,$(OS)),debian 12)
BASE ?= 7.2
else ifeq ($(wordlist 1,2,$(OS)),debian 13)
BASE ?= 10.0
else
$(error this series builds and tests on Debian 12 (bookworm) and Debian 13 (trixie) only; this is $(or $(wordlist 3,9,$(OS)),an unknown system))
endif
ifeq ($(wildcard mk/bases/$(BASE).env),)
$(error BASE=$(BASE): no such base; the bases are $(patsubst mk/bases/%.env,%,$(wildcard mk/bases/*.env)))
endif
include mk/bases/$(BASE).env
B     := $(TOP)/$(BASE_BUILD)
SRC   := $(B)/src
BLD   := $(SRC)/build
PREFIX ?= /usr/local

# Firmware comes from Debian's packages: seabios, qemu-system-data (option
# ROMs), ipxe-qemu (in /usr/lib/ipxe/qemu on Debian 12, /usr/share/qemu
# on Debian 13: BASE_FIRMWAREPATH of mk/bases/).  seabios comes first: Debian's qemu-system-data makes
# bios-microvm.bin a link to qboot.rom, which cannot boot the disks that
# QEMU's microvm tests use; upstream QEMU ships SeaBIOS's microvm build
# under that name.  qemu-efi-aarch64 is passed explicitly with -drive.
# Installed binaries look in these host directories; the binaries in the
# build directory and every test use the versions that mk/assets.pins
# pins, unpacked in .build/firmware (mk/assets.sh, mk/bundle.sh).
FIRMWAREPATH := $(BASE_FIRMWAREPATH)

# upstream's qtests that the series touches: NUMA options, every query
# command (query-vcpu-affinity among them), HMP's info commands, CXL
# host bridges, QOM properties of every machine, and introspection of
# every type.  On aarch64, qom-test and test-hmp go through all ~90 Arm
# machines (10 and 3.5 minutes on 2 cores): they are left out.
UPSTREAM_QTESTS := numa-test qmp-cmd-test test-hmp cxl-test qom-test \
	device-introspect-test
QTESTS  := bios-tables-test generic-initiator-test generic-port-test \
	vcpu-affinity-test cache-monitor-test topology-fuzz-test \
	$(UPSTREAM_QTESTS)
# what make check runs: ARCH:TEST
QTEST_JOBS := x86_64:bios-tables-test aarch64:bios-tables-test \
	x86_64:generic-initiator-test aarch64:generic-initiator-test \
	x86_64:generic-port-test \
	x86_64:vcpu-affinity-test aarch64:vcpu-affinity-test \
	x86_64:cache-monitor-test x86_64:topology-fuzz-test \
	$(addprefix x86_64:,$(UPSTREAM_QTESTS)) \
	aarch64:numa-test aarch64:qmp-cmd-test aarch64:device-introspect-test
# fault-inject.so: vcpu-affinity-test preloads it into QEMU
NINJA_TARGETS := qemu-system-x86_64 qemu-system-aarch64 \
	$(addprefix tests/qtest/,$(QTESTS) fault-inject.so)

export BASE B QTESTS QTEST_JOBS

.PHONY: all deps prepare configure firmware build guest-assets upstream-assets check \
	check-sanitizers \
	check-upstream series check-series check-series-debian \
	demo bench install clean distclean

all: build

deps:
	@$(TOP)/mk/deps.sh

prepare: deps
	@$(TOP)/mk/prepare.sh

configure: prepare
	@$(TOP)/mk/configure.sh $(FIRMWAREPATH)

# The pinned firmware (mk/assets.pins), fetched once into .build
firmware: deps
	@$(TOP)/mk/assets.sh firmware

build: configure firmware
	@echo "build: ninja $(NINJA_TARGETS)"
	@ninja -C $(BLD) --quiet $(NINJA_TARGETS)
	@$(TOP)/mk/bundle.sh $(BLD) $(FIRMWAREPATH) $(B)/firmware

# Debian's kernels, busybox and trixie's AAVMF for the guest tests, pinned
# in mk/assets.pins (cached)
guest-assets: deps
	@$(TOP)/mk/assets.sh guest

check: build guest-assets
	@$(TOP)/mk/check.sh

# x86_64 QEMU built again with --enable-sanitizers (ASan, LSan, UBSan) in
# .build/src/build-san; our qtests run under it and fail on any report
# that involves our code (mk/check-sanitizers.sh).  CI runs it after check.
check-sanitizers: configure firmware
	@$(TOP)/mk/check-sanitizers.sh $(FIRMWAREPATH)

# The work as mail-format patches, one per entry of patches/series with
# its new files (patches/manifest): .build/series for git am and review,
# .build/series-debian for quilt and dpkg-source (mk/series.py)
series: prepare
	@python3 $(TOP)/mk/series.py

# Optional, not part of check: git am the series patch by patch onto a git
# repository of the pristine base and build after each (mk/check-series.sh)
check-series: series
	@$(TOP)/mk/check-series.sh $(FIRMWAREPATH)

# Optional: the series the Debian way, quilt push -a and dpkg-source -b/-x
# in a copy of the unpacked source package (mk/check-series-debian.sh)
check-series-debian: series
	@$(TOP)/mk/check-series-debian.sh

# Debian 13's own QEMU 10.0 binaries with their libraries, unpacked
upstream-assets: deps
	@$(TOP)/mk/assets.sh upstream

# Optional: our tables and our runtime against Debian 13's QEMU 10.0
check-upstream: build guest-assets upstream-assets
	@$(TOP)/mk/check-upstream.sh

demo: build guest-assets
	@$(TOP)/mk/demo.sh

# Cost figures (mk/bench.py), figures 1 and 1b also on Debian 13's QEMU
# 10.0; BENCH_ARGS=--tiny for the smallest sizes
bench: build guest-assets upstream-assets
	@python3 $(TOP)/mk/bench.py --build $(BLD) \
		--assets $(B)/guest/assets.env --out $(B)/bench/results.json \
		--upstream $(B)/upstream $(BENCH_ARGS)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BLD)/qemu-system-x86_64 $(BLD)/qemu-system-aarch64 \
		$(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BLD)

# also the trixie root of the native libvirt unit (mk/libvirt-root.sh),
# which every base shares
distclean:
	rm -rf $(B) $(TOP)/.build-libvirt-root
