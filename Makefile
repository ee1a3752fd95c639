# Building, installing and packaging tokentally. docs/systemd.md explains the result.
#
#   make                      build the release binary (Swift runtime linked in statically)
#   sudo make install         install it, the systemd units (tokentally-serve and -ship not enabled), the
#                             example config and the docs
#   sudo make uninstall       remove what install put there (an edited config is kept)
#   make deb                  build .build-deb/tokentally_<version>_<arch>.deb
#   make check-unit           systemd-analyze verify and security on the units
#
# install and uninstall honour DESTDIR (staged installs: nothing outside DESTDIR is touched)
# and the usual prefix, bindir, sysconfdir, unitdir and docdir. BINARY=path installs a binary
# built elsewhere.

SWIFT ?= swift
SCRATCH ?= .build
SWIFT_BUILD_FLAGS ?= -c release --static-swift-stdlib
BINARY ?= $(SCRATCH)/release/tokentally

prefix ?= /usr
bindir ?= $(prefix)/bin
sysconfdir ?= /etc
unitdir ?= /lib/systemd/system
docdir ?= $(prefix)/share/doc/tokentally

INSTALL ?= install
DOCS = README.md $(wildcard docs/*.md)
SCHEMAS = $(wildcard docs/schemas/*.json)
CONFIG = $(DESTDIR)$(sysconfdir)/tokentally/tokentally.yaml

.PHONY: all build install uninstall deb check-unit clean

all: build

build:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS) --product tokentally --scratch-path $(SCRATCH)

# Built on demand when missing, so that `sudo make install` after `make` does not rebuild as root.
$(BINARY):
	$(MAKE) build

# The unit names the binary by its installed path. An existing config is the operator's: it is
# never overwritten, and the new example goes next to it. Only on the live system (no DESTDIR):
# the service's user is made and systemd is told about the unit.
install: $(BINARY)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(bindir) $(DESTDIR)$(unitdir) $(DESTDIR)$(sysconfdir)/tokentally \
		$(DESTDIR)$(docdir)/schemas
	$(INSTALL) -m 0755 $(BINARY) $(DESTDIR)$(bindir)/tokentally
	sed 's|/usr/bin/tokentally|$(bindir)/tokentally|' systemd/tokentally.service \
		> $(DESTDIR)$(unitdir)/tokentally.service
	chmod 0644 $(DESTDIR)$(unitdir)/tokentally.service
	for unit in tokentally-serve tokentally-ship; do \
		sed 's|/usr/bin/tokentally|$(bindir)/tokentally|' systemd/$$unit.service > $(DESTDIR)$(unitdir)/$$unit.service && \
		chmod 0644 $(DESTDIR)$(unitdir)/$$unit.service || exit 1; \
	done
	if [ -e $(CONFIG) ]; then \
		$(INSTALL) -m 0644 config/tokentally.yaml $(CONFIG).example; \
		echo "kept $(CONFIG); the new example is $(CONFIG).example"; \
	else \
		$(INSTALL) -m 0644 config/tokentally.yaml $(CONFIG); \
	fi
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(docdir)/
	$(INSTALL) -m 0644 $(SCHEMAS) $(DESTDIR)$(docdir)/schemas/
	if [ -z "$(DESTDIR)" ]; then \
		getent passwd tokentally >/dev/null || \
			adduser --system --group --home /var/lib/tokentally --no-create-home --quiet tokentally; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "installed: edit $(CONFIG), then: systemctl enable --now tokentally"; \
	fi

# Removes the files install made. The config goes only if it is still the unmodified example,
# as dpkg -r would keep an edited conffile. State and snapshots under /var/lib/tokentally, and
# the tokentally user, are kept.
uninstall:
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now tokentally.service tokentally-serve.service tokentally-ship.service 2>/dev/null || true; \
	fi
	rm -f $(DESTDIR)$(bindir)/tokentally $(DESTDIR)$(unitdir)/tokentally.service \
		$(DESTDIR)$(unitdir)/tokentally-serve.service $(DESTDIR)$(unitdir)/tokentally-ship.service
	rm -f $(CONFIG).example
	if [ -e $(CONFIG) ] && cmp -s config/tokentally.yaml $(CONFIG); then rm -f $(CONFIG); fi
	rmdir $(DESTDIR)$(sysconfdir)/tokentally 2>/dev/null || true
	rm -rf $(DESTDIR)$(docdir)
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# scripts/build-deb builds the release binary itself unless BINARY is given on the command line.
deb:
	scripts/build-deb --scratch-path $(SCRATCH) $(if $(filter command line,$(origin BINARY)),--binary $(BINARY))

# The unit as installed must pass verify (which needs ExecStart's binary: the built one stands
# in for /usr/bin/tokentally) and score an exposure of 2.0 or less (threshold is tenths).
check-unit: $(BINARY)
	for unit in tokentally tokentally-serve tokentally-ship; do \
		tmp=$$(mktemp -d) && \
		sed 's|^ExecStart=/usr/bin/tokentally|ExecStart=$(abspath $(BINARY))|' systemd/$$unit.service \
			> $$tmp/$$unit.service && \
		out=$$(systemd-analyze verify $$tmp/$$unit.service 2>&1); status=$$?; rm -rf "$$tmp"; \
		[ $$status -eq 0 ] && [ -z "$$out" ] || { echo "systemd-analyze verify $$unit: $${out:-failed}"; exit 1; }; \
		systemd-analyze security --offline=yes --threshold=20 systemd/$$unit.service | tail -n 1 || exit 1; \
	done

clean:
	rm -rf .build-deb
