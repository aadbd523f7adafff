# dpforge: build specialized Cilium-style eBPF datapaths ahead of time.
# Tools are overridable; no variant logic lives here: it all calls dpforge.

GO      ?= go
CLANG   ?= clang-19
STRIP   ?= llvm-strip-19
OUT     ?= out
V       ?= 0
GOTEST_FLAGS ?= -count=1

ifeq ($(V),1)
  Q :=
  GOTEST_FLAGS += -v
else
  Q := @
endif

export DPFORGE_CC := $(CLANG)
export DPFORGE_STRIP := $(STRIP)

.DELETE_ON_ERROR:
.PHONY: all run test bench generate lint deps tools fuzz clean

all: run

# deps installs what building BPF needs when it is missing: clang/llvm 19,
# libbpf headers and the kernel UAPI headers, then the Go modules.
deps:
	$(Q)missing=""; \
	command -v $(CLANG) >/dev/null 2>&1 || missing="$$missing clang-19"; \
	command -v $(STRIP) >/dev/null 2>&1 || missing="$$missing llvm-19"; \
	[ -f /usr/include/bpf/bpf_helpers.h ] || missing="$$missing libbpf-dev"; \
	[ -f /usr/include/linux/bpf.h ] || missing="$$missing linux-libc-dev"; \
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
