// two_models: runs two demandlayer models concurrently inside one weight
// budget through the runtime functions of the C API (dl_runtime_*), one
// pthread per model, and checks their outputs.
//
//   two_models MODEL_A.dlm MODEL_B.dlm --budget BYTES [--requests N]
//              [--scheduling fifo|priority|shortest]
//              [--save-input-a FILE.npy] [--save-input-b FILE.npy]
//              [--expect-a FILE.npy] [--expect-b FILE.npy]
//
// BYTES may end in K, M or G (KiB, MiB, GiB). Every input is the seeded
// sequence classify makes (splitmix64 from 42, mapped to [-1, 1));
// --save-input-a/-b write model A's/B's first input as .npy. Each thread runs
// N requests (default 8) to its model while the other runs its own; every
// run of a model must give the same output bit for bit, and with
// --expect-a/-b the first output must equal the given .npy (for example
// `demandlayer run`'s on the saved input) exactly. Prints each model's
// request count and p50 latency, and the runtime's peak weight bytes against
// the budget.
// Exit status: 0 success, 1 a demandlayer failure or any mismatch, 2 usage.
#define _POSIX_C_SOURCE 200809L

#include <demandlayer.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"
#include "seeded.h"

// One model in the runtime and the thread that runs it.
typedef struct worker {
    const char *path;
    const char *save_input;
    const char *expect;
    dl_model *model;
    dl_runtime_model *member;
    dl_input *inputs;
    size_t input_count;
    dl_output *outputs;
    size_t output_count;
    float **first;           // each output of the first run, to compare the others with
    int requests;
    uint64_t *latency_ns;    // per request, from the call to its outputs
    uint64_t wait_ns;        // summed: time requests waited behind the other model's
    int differing;           // runs whose outputs differ from the first run's
    dl_status status;        // DL_OK, or the failure that stopped the thread
    char error[512];         // dl_last_error() of that failure (it is per thread)
} worker;

static int usage(const char *problem) {
    fprintf(stderr, "two_models: %s\nusage: two_models MODEL_A.dlm MODEL_B.dlm --budget BYTES [--requests N] "
                    "[--scheduling fifo|priority|shortest] [--save-input-a FILE.npy] [--save-input-b FILE.npy] "
                    "[--expect-a FILE.npy] [--expect-b FILE.npy]\n", problem);
    return 2;
}

static int fail(const char *what, dl_status status) {
    fprintf(stderr, "two_models: %s failed (status %d): %s\n", what, (int)status, dl_last_error());
    return 1;
}

// "4194304", "4M", "512K": bytes; 0 when it is not a size.
static uint64_t parse_bytes(const char *text) {
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (end == text) return 0;
    const char *suffixes = "KMG";
    const char *suffix = *end ? strchr(suffixes, *end) : NULL;
    if (suffix) {
        value <<= 10 * (suffix - suffixes + 1);
        end++;
    }
    return *end == '\0' ? value : 0;
}

static uint64_t now_ns(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (uint64_t)time.tv_sec * 1000000000u + (uint64_t)time.tv_nsec;
}

// Opens the model, makes its seeded inputs and its output buffers (sized from
// the model's declarations) and adds it to `runtime`.
static int prepare(worker *w, dl_runtime *runtime, const char *name) {
    dl_status status = dl_model_open(w->path, &w->model);
    if (status != DL_OK) return fail("dl_model_open", status);
    w->input_count = dl_model_input_count(w->model);
    w->inputs = calloc(w->input_count, sizeof *w->inputs);
    for (size_t index = 0; index < w->input_count; index++) {
        dl_value_info info;
        if ((status = dl_model_input(w->model, index, &info)) != DL_OK) return fail("dl_model_input", status);
        float *data = malloc(info.element_count * sizeof *data);
        uint64_t state = 42;
        for (size_t element = 0; element < info.element_count; element++) data[element] = seeded_value(&state);
        w->inputs[index] = (dl_input){info.name, data, info.shape, info.rank};
        if (w->save_input && index == 0 && npy_write(w->save_input, data, info.shape, info.rank) != 0) return 1;
    }
    w->output_count = dl_model_output_count(w->model);
    w->outputs = calloc(w->output_count, sizeof *w->outputs);
    w->first = calloc(w->output_count, sizeof *w->first);
    for (size_t index = 0; index < w->output_count; index++) {
        dl_value_info info;
        if ((status = dl_model_output(w->model, index, &info)) != DL_OK) return fail("dl_model_output", status);
        w->outputs[index] = (dl_output){info.name, malloc(info.element_count * sizeof(float)), info.element_count, 0};
        w->first[index] = malloc(info.element_count * sizeof(float));
    }
    w->latency_ns = calloc((size_t)w->requests, sizeof *w->latency_ns);
    if ((status = dl_runtime_add(runtime, w->model, name, &w->member)) != DL_OK) return fail("dl_runtime_add", status);
    return 0;
}

// The thread: `requests` runs of one model, each output compared with the first run's.
static void *run_requests(void *argument) {
    worker *w = argument;
    for (int request = 0; request < w->requests; request++) {
        dl_request_stats stats = {.struct_size = sizeof stats};
        uint64_t start = now_ns();
        dl_status status = dl_runtime_model_run(w->member, w->inputs, w->input_count, w->outputs, w->output_count,
                                                0, 0, &stats);
        w->latency_ns[request] = now_ns() - start;
        if (status != DL_OK) {
            w->status = status;
            snprintf(w->error, sizeof w->error, "%s", dl_last_error());
            return NULL;
        }
        w->wait_ns += stats.wait_ns;
        int differs = 0;
        for (size_t index = 0; index < w->output_count; index++) {
            size_t bytes = w->outputs[index].element_count * sizeof(float);
            if (request == 0) memcpy(w->first[index], w->outputs[index].data, bytes);
            else differs |= memcmp(w->first[index], w->outputs[index].data, bytes) != 0;
        }
        w->differing += differs;
    }
    return NULL;
}

static int compare_latency(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// Compares the first output with the .npy at `w->expect`: 0 when every value is equal.
static int compare(const worker *w) {
    float *reference;
    size_t count, rank;
    int64_t shape[DL_MAX_RANK];
    if (npy_read(w->expect, &reference, &count, shape, DL_MAX_RANK, &rank) != 0) return 1;
    const dl_output *output = &w->outputs[0];
    if (count != output->element_count) {
        fprintf(stderr, "two_models: %s holds %zu values, output '%s' %zu\n", w->expect, count, output->name, output->element_count);
        free(reference);
        return 1;
    }
    size_t differing = 0;
    double worst = 0;
    for (size_t index = 0; index < count; index++) {
        double difference = fabs((double)output->data[index] - reference[index]);
        if (output->data[index] != reference[index]) differing++;
        if (difference > worst) worst = difference;
    }
    free(reference);
    printf("%s: '%s' compared with %s: %zu of %zu values differ, max |difference| %.3g: %s\n", dl_model_name(w->model),
           output->name, w->expect, differing, count, worst, differing == 0 ? "same" : "DIFFERENT");
    return differing == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    worker workers[2];
    memset(workers, 0, sizeof workers);
    dl_runtime_options options;
    dl_runtime_options_init(&options);
    int requests = 8;
    static const char *schedulings[] = {"fifo", "priority", "shortest"};
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (argument[0] != '-') {
            if (workers[1].path) return usage("more than two models given");
            workers[workers[0].path ? 1 : 0].path = argument;
            continue;
        }
        if (!value) return usage("an option is missing its value");
        index++;
        if (!strcmp(argument, "--budget")) {
            if ((options.budget_bytes = parse_bytes(value)) == 0) return usage("--budget takes a byte count (K, M, G allowed)");
        } else if (!strcmp(argument, "--requests")) requests = atoi(value);
        else if (!strcmp(argument, "--save-input-a")) workers[0].save_input = value;
        else if (!strcmp(argument, "--save-input-b")) workers[1].save_input = value;
        else if (!strcmp(argument, "--expect-a")) workers[0].expect = value;
        else if (!strcmp(argument, "--expect-b")) workers[1].expect = value;
        else if (!strcmp(argument, "--scheduling")) {
            int found = -1;
            for (int scheduling = 0; scheduling < 3; scheduling++) if (!strcmp(value, schedulings[scheduling])) found = scheduling;
            if (found < 0) return usage("unknown scheduling");
            options.scheduling = (dl_scheduling)found;
        } else return usage("unknown option");
    }
    if (!workers[1].path) return usage("give two models");
    if (options.budget_bytes == 0) return usage("--budget is required");
    if (requests < 1) return usage("--requests must be at least 1");

    dl_runtime *runtime;
    dl_status status = dl_runtime_create(&options, &runtime);
    if (status != DL_OK) return fail("dl_runtime_create", status);
    for (int model = 0; model < 2; model++) {
        workers[model].requests = requests;
        // The same model twice gets two names, so messages tell them apart.
        const char *name = model == 1 && !strcmp(workers[0].path, workers[1].path) ? "b" : NULL;
        if (prepare(&workers[model], runtime, name) != 0) return 1;
    }

    pthread_t threads[2];
    for (int model = 0; model < 2; model++) {
        if (pthread_create(&threads[model], NULL, run_requests, &workers[model]) != 0) {
            fprintf(stderr, "two_models: pthread_create failed\n");
            return 1;
        }
    }
    for (int model = 0; model < 2; model++) pthread_join(threads[model], NULL);

    dl_runtime_memory memory = {.struct_size = sizeof memory};
    if ((status = dl_runtime_stats(runtime, &memory)) != DL_OK) return fail("dl_runtime_stats", status);
    printf("runtime: budget %llu bytes (%.1f MiB), ring %llu, held reserve %llu, %s scheduling\n",
           (unsigned long long)memory.budget_bytes, memory.budget_bytes / 1048576.0, (unsigned long long)memory.ring_bytes,
           (unsigned long long)memory.held_reserve_bytes, schedulings[options.scheduling]);
    printf("%-12s %10s %9s %9s %14s  %s\n", "model", "weights", "requests", "p50 ms", "mean wait ms", "outputs of its runs");
    int result = 0;
    for (int model = 0; model < 2; model++) {
        worker *w = &workers[model];
        if (w->status != DL_OK) {
            fprintf(stderr, "two_models: dl_runtime_model_run of %s failed (status %d): %s\n", w->path, (int)w->status, w->error);
            result = 1;
            continue;
        }
        qsort(w->latency_ns, (size_t)w->requests, sizeof *w->latency_ns, compare_latency);
        printf("%-12s %6.1f MiB %9d %9.2f %14.2f  ", dl_model_name(w->model), dl_model_weight_bytes(w->model) / 1048576.0,
               w->requests, w->latency_ns[w->requests / 2] / 1e6, w->wait_ns / 1e6 / w->requests);
        if (w->differing == 0) printf("identical\n");
        else printf("DIFFERENT: %d of %d runs differ from the first\n", w->differing, w->requests);
        if (w->differing != 0) result = 1;
        if (w->expect && compare(w) != 0) result = 1;
    }
    int within = memory.peak_weight_bytes <= memory.budget_bytes;
    printf("peak weight bytes %llu of the budget %llu (%.1f%%): %s\n", (unsigned long long)memory.peak_weight_bytes,
           (unsigned long long)memory.budget_bytes, 100.0 * memory.peak_weight_bytes / memory.budget_bytes,
           within ? "within" : "OVER");
    if (!within) result = 1;

    dl_runtime_destroy(runtime);
    for (int model = 0; model < 2; model++) dl_model_close(workers[model].model);
    return result;
}
