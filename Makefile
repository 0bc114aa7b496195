# frugal: GNU Makefile.
#   make                 release build (build/release/)
#   make BUILD=debug     -O0 -g;   make SAN=1   ASan + UBSan;   make OMP=0   OpenMP off
#   make test            build and run the whole test suite (ends with "N passed, N failed")
#   make test-slow       exhaustive numerics checks (all 2^32 fp32 patterns; CI runs it)
#   make demo            install missing Debian packages, build, train on Jane Austen (~3 min)
#   make bench           speed benchmarks (see BENCHMARKS.md)
#   WERROR=1             treat warnings as errors (CI)
BUILD   ?= release
SAN     ?= 0
OMP     ?= 1
WERROR  ?= 0
CC      ?= cc

VARIANT := $(BUILD)$(if $(filter 1,$(SAN)),-san)$(if $(filter 0,$(OMP)),-noomp)
O       := build/$(VARIANT)

BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-openmp)
BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
DSS_LIBS    := $(shell pkg-config --libs libdivsufsort libdivsufsort64 2>/dev/null || echo -ldivsufsort -ldivsufsort64)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wformat=2 -Wundef -Wdouble-promotion -Wfloat-conversion
# -fno-math-errno: sqrtf need not set errno, so loops with sqrtf vectorize. It changes no
# result (unlike -ffast-math, which we never use).
CFLAGS_BASE := -std=c11 $(WARN) -fno-math-errno -Iinclude -fvisibility=hidden -MMD -MP $(BLAS_CFLAGS)
ifeq ($(BUILD),debug)
  CFLAGS_BASE += -O0 -g
else
  CFLAGS_BASE += -O3 -g
endif
ifeq ($(SAN),1)
  CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(OMP),1)
  CFLAGS_BASE += -fopenmp
  LDFLAGS += -fopenmp
else
  CFLAGS_BASE += -Wno-unknown-pragmas
endif
ifeq ($(WERROR),1)
  CFLAGS_BASE += -Werror
endif
LDLIBS := $(BLAS_LIBS) $(DSS_LIBS) -lcjson -lgsl -lm

LIB_SRC   := $(sort $(wildcard src/*/*.c))
TOOL_SRC  := $(sort $(wildcard tools/frugal/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(O)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(O)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(O)/bench/%)
REPLAY_BIN := $(FUZZ_SRC:fuzz/fuzz_%.c=$(O)/fuzz/replay_%)
LIB       := $(O)/libfrugal.a
FRUGAL    := $(O)/frugal

.PHONY: all test test-slow demo bench deps clean format format-check fuzz
all: $(FRUGAL) $(LIB)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

# One ISA per translation unit: only *_avx512.c files get AVX-512 code generation; the model
# calls them after checking the CPU at run time.
ARCH := $(shell uname -m)
AVX512_FLAGS := $(if $(filter x86_64,$(ARCH)),-mavx512f -mavx512bw -mavx512vl -mfma)
$(O)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	@echo "CC $< (avx512)"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) $(AVX512_FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(FRUGAL): $(TOOL_OBJ) $(LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(LIB) $(LDLIBS)

$(O)/tests/runner.o: tests/runner.c
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

$(O)/tests/%: tests/%.c $(O)/tests/runner.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "CCLD $@"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/tests/runner.o $(LIB) $(LDLIBS)

$(O)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "CCLD $@"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# fuzz/replay.c runs each target over its corpus without libFuzzer (in every build variant)
$(O)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "CCLD $@"
	@$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS) -o $@ $< fuzz/replay.c $(LIB) $(LDLIBS)

test: $(FRUGAL) $(TEST_BIN) $(REPLAY_BIN)
	@FRUGAL=$(FRUGAL) O=$(O) sh tests/run_all.sh $(TEST_BIN)

# Exhaustive checks too slow for every build variant: every fp32 bit pattern through
# fp32 -> bf16/fp16 -> fp32 on each code path (about 1-2 minutes on 2 cores; `make test` runs
# a sample of the same checks).
test-slow: $(O)/tests/test_numerics_slow
	@FG_TEST_SLOW=1 $(O)/tests/test_numerics_slow exhaustive

# libFuzzer (clang), FUZZ_SECONDS per target; new crashes go to fuzz/crash-*; add minimized
# ones to fuzz/corpus/<target>/ so that the replay keeps checking them.
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do t=$$(basename $$f .c | sed 's/^fuzz_//'); \
	  clang -std=c11 -O1 -g -Iinclude $(BLAS_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -Wno-unknown-pragmas -o build/fuzz/$$t $$f $(LIB_SRC) $(BLAS_LIBS) $(DSS_LIBS) -lcjson -lm || exit 1; \
	  mkdir -p build/fuzz/corpus_$$t && cp fuzz/corpus/$$t/* build/fuzz/corpus_$$t/; \
	  build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=fuzz/crash- \
	    build/fuzz/corpus_$$t || exit 1; done

bench: $(FRUGAL) $(BENCH_BIN)
	@echo "bench binaries in $(O)/bench; commands in BENCHMARKS.md"

deps:
	@sh scripts/install_deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@FRUGAL=$(FRUGAL) sh scripts/demo.sh

format:
	clang-format -i include/frugal/*.h src/*/*.c src/*/*.h tools/frugal/*.c tests/*.c tests/*.h bench/*.c fuzz/*.c

format-check:
	clang-format --dry-run -Werror include/frugal/*.h src/*/*.c src/*/*.h tools/frugal/*.c tests/*.c tests/*.h bench/*.c fuzz/*.c

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
