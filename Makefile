# dpforge: build specialized Cilium-style eBPF datapaths ahead of time.
# Tools are overridable; no variant logic lives here: it all calls dpforge.

GO      ?= go
CLANG   ?= clang-19
STRIP   ?= llvm-strip-19
OUT     ?= out
V       ?= 0
GOTEST_FLAGS ?= -count=1 -timeout 30m

ifeq ($(V),1)
  Q :=
  GOTEST_FLAGS += -v
else
  Q := @
endif

export DPFORGE_CC := $(CLANG)
export DPFORGE_STRIP := $(STRIP)

.DELETE_ON_ERROR:
.PHONY: all run test vmsuite vmtest vmtraffic bench generate lint deps tools fuzz clean

all: run

# deps installs what building BPF needs when it is missing: clang/llvm 19,
# libbpf headers and the kernel UAPI headers, then the Go modules.
deps:
	$(Q)missing=""; \
	command -v $(CLANG) >/dev/null 2>&1 || missing="$$missing clang-19"; \
	command -v $(STRIP) >/dev/null 2>&1 || missing="$$missing llvm-19"; \
	[ -f /usr/include/bpf/bpf_helpers.h ] || missing="$$missing libbpf-dev"; \
	[ -f /usr/include/linux/bpf.h ] || missing="$$missing linux-libc-dev"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	$(Q)$(GO) mod download

bin/dpforge: deps $(shell find . -name '*.go' -o -name '*.c' -o -name '*.h' -o -name '*.tmpl' -o -name '*.yaml' | grep -v '^./out/')
	$(Q)$(GO) build -o $@ ./cmd/dpforge

# run: the main job on the embedded default matrix: build every distinct
# variant, then (as root) load each into this kernel's verifier and run the
# packet scenarios through every variant they apply to.
run: bin/dpforge
	$(Q)./bin/dpforge validate -f $(if $(MATRIX),$(MATRIX),generator/config/default.yaml)
	$(Q)./bin/dpforge build --out $(OUT) $(if $(MATRIX),-f $(MATRIX))
	$(Q)if [ "$$(id -u)" = 0 ]; then \
		./bin/dpforge verify --out $(OUT) && ./bin/dpforge test --out $(OUT) $(if $(MATRIX),-f $(MATRIX)); \
	else echo "dpforge verify and test skipped: loading programs into the kernel needs root"; fi

test: deps
	$(Q)$(GO) vet ./...
	$(Q)$(GO) test $(GOTEST_FLAGS) ./...
	$(Q)$(MAKE) --no-print-directory vmsuite

# VM_KERNELS are the Debian kernel series (or default, oldest, newest) the VM
# suite boots under qemu: the scenarios on every variant that fits each
# kernel, the kernel's probe against the model's table, verifier headroom.
# Kernels are fetched once into the dpforge cache; qemu is installed when
# missing. Empty: the suite is not run, and this says so.
VM_KERNELS ?= oldest newest
# VM_TRAFFIC are the series the VM suite also runs the loader's traffic
# suite in (two nodes in network namespaces, real packets): one kernel
# before 6.15, where bpf_redirect_peer keeps the packet type, and without
# TCX, so tc attach and tc filter replace are exercised.
VM_TRAFFIC ?= 6.1

vmsuite: deps
	$(Q)if [ -z "$(VM_KERNELS)" ]; then echo "VM suite NOT RUN: VM_KERNELS is empty"; exit 0; fi; \
	log=$$(mktemp); start=$$(date +%s); \
	DPFORGE_VM_KERNELS="$(VM_KERNELS)" DPFORGE_VM_TRAFFIC="$(VM_TRAFFIC)" \
		$(GO) test -count=1 -v -timeout 45m -run '^(TestVMSuite|TestVM|TestVMTraffic)$$' \
		./cmd/dpforge ./generator/vm >$$log 2>&1; rc=$$?; \
	if [ "$(V)" = 1 ]; then cat $$log; else \
		if [ $$rc = 0 ]; then grep -E '^ *(--- |ok)|NOT RUN|SKIPPED|kernel .*(scenario runs|traffic)|model difference|skipped' $$log; \
		else cat $$log; fi; fi; \
	echo "VM suite ($(VM_KERNELS); traffic: $(VM_TRAFFIC)): $$(( $$(date +%s) - start )) s"; rm -f $$log; exit $$rc

# vmtest: verify and test every variant of the default matrix on this
# kernel and, under qemu, on the default kernel set (5.10, 6.1, 6.12 and the
# newest 6.x and 7.x series the package index has), then print the
# manifest's kernel table.
vmtest: bin/dpforge
	$(Q)./bin/dpforge build --out $(OUT)
	$(Q)./bin/dpforge verify --out $(OUT)
	$(Q)./bin/dpforge test --out $(OUT)
	$(Q)./bin/dpforge test --vm default --out $(OUT) $(if $(TRAFFIC),--traffic)
	$(Q)./bin/dpforge report --out $(OUT)

# vmtraffic: vmtest with the loader's traffic suite (pod to pod, services,
# Geneve, bandwidth pacing, replace under load) inside every kernel of the
# set too; its cases join the manifest and the table.
vmtraffic:
	$(Q)$(MAKE) --no-print-directory vmtest TRAFFIC=1

bench: deps
	$(Q)$(GO) test -run '^$$' -bench . -benchtime 1x ./...

fuzz: deps
	$(Q)$(GO) test -run '^$$' -fuzz FuzzPipeline -fuzztime 30s ./generator/header

generate: bin/dpforge
	$(Q)./bin/dpforge gen --out $(OUT)/headers -f generator/config/default.yaml

lint: deps
	$(Q)test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(Q)$(GO) vet ./...

# The output directory's lock and any staged copy live beside it.
clean:
	rm -rf bin $(OUT) $(dir $(OUT)).$(notdir $(OUT)).lock $(dir $(OUT)).$(notdir $(OUT)).stage-*
