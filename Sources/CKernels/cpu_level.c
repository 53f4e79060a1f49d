// Which of CKernels' instruction-set paths the process may use; see include/ckernels.h.
//
// The answer is the CPU's widest level, lowered by the environment:
//   DEMANDLAYER_PORTABLE_KERNELS=1          portable (every CPU check answers no)
//   DEMANDLAYER_CPU=avx512|avx2|portable    at most that level (x86-64)
//   DEMANDLAYER_CPU=neon|portable           the same on ARM64, where NEON is always present (ARMv8-A)
// Both are read once per process: every GEMM call asks for the level, and reading the environment each
// time showed as 1% of a Winograd convolution's time.
// A DEMANDLAYER_CPU value that is not one of those, or that names a level the
// CPU lacks, is ignored with one line on stderr: a setting copied from another
// machine must not stop a program, nor make it run instructions this CPU lacks.
#include "ckernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int forced_portable;
static pthread_once_t forced_once = PTHREAD_ONCE_INIT;

static void read_forced(void) {
    const char *value = getenv("DEMANDLAYER_PORTABLE_KERNELS");
    forced_portable = value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

int dl_kernels_forced_portable(void) {
    pthread_once(&forced_once, read_forced);
    return forced_portable;
}

static DLCpuLevel hardware_level(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f")) return DL_CPU_AVX512;
    if (avx2) return DL_CPU_AVX2;
#elif defined(__aarch64__)
    return DL_CPU_NEON;
#endif
    return DL_CPU_PORTABLE;
}

static const char *const level_names[] = {"portable", "avx2", "avx512", "neon"};

/// Whether a process on a CPU at `hardware` may run at `level`: portable
/// always, the x86 levels up to the CPU's, NEON only on ARM64.
static int level_allowed(DLCpuLevel level, DLCpuLevel hardware) {
    if (level == DL_CPU_PORTABLE || level == hardware) return 1;
    return level == DL_CPU_AVX2 && hardware == DL_CPU_AVX512;
}

static const char *expected_names(void) {
#if defined(__aarch64__)
    return "neon or portable";
#else
    return "avx512, avx2 or portable";
#endif
}

static DLCpuLevel chosen_level;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose_level(void) {
    DLCpuLevel hardware = hardware_level();
    chosen_level = hardware;
    const char *wanted = getenv("DEMANDLAYER_CPU");
    if (wanted == NULL || wanted[0] == '\0') return;
    for (int level = DL_CPU_PORTABLE; level <= DL_CPU_NEON; level++) {
        if (strcmp(wanted, level_names[level]) != 0) continue;
        if (level_allowed((DLCpuLevel)level, hardware)) {
            chosen_level = (DLCpuLevel)level;
        } else {
            fprintf(stderr, "demandlayer: warning: DEMANDLAYER_CPU=%s ignored: this CPU has only %s; using %s\n", wanted,
                    level_names[hardware], level_names[hardware]);
        }
        return;
    }
    fprintf(stderr, "demandlayer: warning: DEMANDLAYER_CPU=%s ignored: expected %s; using %s\n", wanted, expected_names(),
            level_names[hardware]);
}

DLCpuLevel dl_cpu_level(void) {
    if (dl_kernels_forced_portable()) return DL_CPU_PORTABLE;
    pthread_once(&chosen_once, choose_level);
    return chosen_level;
}

const char *dl_cpu_level_name(DLCpuLevel level) {
    return level >= DL_CPU_PORTABLE && level <= DL_CPU_NEON ? level_names[level] : "unknown";
}
