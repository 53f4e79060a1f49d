// classify: runs a demandlayer model through the C API and prints the top-5
// of its first output and the inference's statistics.
//
//   classify MODEL.dlm [--input FILE.npy] [--save-input FILE.npy]
//            [--save-output FILE.npy] [--expect FILE.npy]
//            [--policy pipelined|resident|bulk|linear|mmap] [--depth N] [--runs N]
//
// Without --input, every input is the seeded sequence Examples/swift/classify
// also makes (splitmix64 from 42, mapped to [-1, 1)). --expect compares the
// first output with a reference (for example `demandlayer run`'s) and exits
// 1 if any value differs by more than 1e-5 x max(1, max |reference|).
// Exit status: 0 success, 1 a demandlayer or comparison failure, 2 usage.
#include <demandlayer.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "seeded.h"

static int fail(const char *what, dl_status status) {
    fprintf(stderr, "classify: %s failed (status %d): %s\n", what, (int)status, dl_last_error());
    return 1;
}

static int usage(const char *problem) {
    fprintf(stderr, "classify: %s\nusage: classify MODEL.dlm [--input FILE.npy] [--save-input FILE.npy] "
                    "[--save-output FILE.npy] [--expect FILE.npy] [--policy NAME] [--depth N] [--runs N]\n", problem);
    return 2;
}

// Prints the five largest values of `values` with their indices.
static void print_top5(const char *name, const float *values, size_t count) {
    printf("top-5 of '%s' (%zu values):\n", name, count);
    int taken[5] = {-1, -1, -1, -1, -1};
    for (int rank = 0; rank < 5 && (size_t)rank < count; rank++) {
        int best = -1;
        for (size_t index = 0; index < count; index++) {
            int used = 0;
            for (int earlier = 0; earlier < rank; earlier++) used |= taken[earlier] == (int)index;
            if (!used && (best < 0 || values[index] > values[best])) best = (int)index;
        }
        taken[rank] = best;
        printf("  class %4d  %.6f\n", best, values[best]);
    }
}

// Compares `values` with the reference in `path`; 0 when within tolerance.
static int compare(const char *path, const float *values, size_t count) {
    float *reference;
    size_t reference_count, rank;
    int64_t shape[DL_MAX_RANK];
    if (npy_read(path, &reference, &reference_count, shape, DL_MAX_RANK, &rank) != 0) return 1;
    if (reference_count != count) {
        fprintf(stderr, "classify: %s holds %zu values, the output %zu\n", path, reference_count, count);
        free(reference);
        return 1;
    }
    double largest = 1, worst = 0;
    size_t worst_index = 0;
    for (size_t index = 0; index < count; index++) if (fabs(reference[index]) > largest) largest = fabs(reference[index]);
    for (size_t index = 0; index < count; index++) {
        double difference = fabs((double)values[index] - reference[index]);
        if (difference > worst || isnan(difference)) { worst = difference; worst_index = index; }
    }
    free(reference);
    int same = !(worst > 1e-5 * largest) && !isnan(worst);
    printf("compared with %s: max |difference| %.3g at %zu (tolerance %.3g): %s\n", path, worst, worst_index,
           1e-5 * largest, same ? "same" : "DIFFERENT");
    return same ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *input_path = NULL, *save_input = NULL, *save_output = NULL, *expect = NULL;
    dl_session_options options;
    dl_session_options_init(&options);
    int runs = 3;
    static const char *policies[] = {"pipelined", "resident", "bulk", "linear", "mmap"};
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (argument[0] != '-') {
            if (model_path) return usage("more than one model given");
            model_path = argument;
            continue;
        }
        if (!value) return usage("an option is missing its value");
        index++;
        if (!strcmp(argument, "--input")) input_path = value;
        else if (!strcmp(argument, "--save-input")) save_input = value;
        else if (!strcmp(argument, "--save-output")) save_output = value;
        else if (!strcmp(argument, "--expect")) expect = value;
        else if (!strcmp(argument, "--depth")) options.depth = atoi(value);
        else if (!strcmp(argument, "--runs")) runs = atoi(value);
        else if (!strcmp(argument, "--policy")) {
            int found = -1;
            for (int policy = 0; policy < 5; policy++) if (!strcmp(value, policies[policy])) found = policy;
            if (found < 0) return usage("unknown policy");
            options.policy = (dl_policy)found;
        } else return usage("unknown option");
    }
    if (!model_path) return usage("no model given");
    if (runs < 1) return usage("--runs must be at least 1");

    dl_model *model;
    dl_status status = dl_model_open(model_path, &model);
    if (status != DL_OK) return fail("dl_model_open", status);

    // Inputs: the seeded sequence, or the .npy file for a one-input model.
    size_t input_count = dl_model_input_count(model);
    dl_input *inputs = calloc(input_count, sizeof *inputs);
    for (size_t index = 0; index < input_count; index++) {
        dl_value_info info;
        if ((status = dl_model_input(model, index, &info)) != DL_OK) return fail("dl_model_input", status);
        float *data;
        if (input_path) {
            static int64_t shape[DL_MAX_RANK];
            size_t count, rank;
            if (input_count != 1) return usage("--input needs a model with one input");
            if (npy_read(input_path, &data, &count, shape, DL_MAX_RANK, &rank) != 0) return 1;
            // The file's own shape: dl_session_run checks it and names both shapes on a mismatch.
            inputs[index] = (dl_input){info.name, data, shape, rank};
        } else {
            uint64_t state = 42;
            data = malloc(info.element_count * sizeof(float));
            for (size_t element = 0; element < info.element_count; element++) data[element] = seeded_value(&state);
            inputs[index] = (dl_input){info.name, data, info.shape, info.rank};
        }
        if (save_input && index == 0 && npy_write(save_input, data, info.shape, info.rank) != 0) return 1;
    }

    // Outputs: every output, each sized from the model's declaration.
    size_t output_count = dl_model_output_count(model);
    if (output_count == 0) return usage("the model has no outputs");
    dl_output *outputs = calloc(output_count, sizeof *outputs);
    dl_value_info first_output = {0};
    for (size_t index = 0; index < output_count; index++) {
        dl_value_info info;
        if ((status = dl_model_output(model, index, &info)) != DL_OK) return fail("dl_model_output", status);
        if (index == 0) first_output = info;
        outputs[index] = (dl_output){info.name, malloc(info.element_count * sizeof(float)), info.element_count, 0};
    }

    dl_session *session;
    if ((status = dl_session_create(model, &options, &session)) != DL_OK) return fail("dl_session_create", status);
    for (int run = 0; run < runs; run++) {
        status = dl_session_run(session, inputs, input_count, outputs, output_count);
        if (status != DL_OK) return fail("dl_session_run", status);
    }

    printf("model %s: %zu layers, %.1f MiB of weights, session arena %.1f MiB (%s, depth %d)\n", dl_model_name(model),
           dl_model_layer_count(model), dl_model_weight_bytes(model) / 1048576.0,
           dl_session_arena_bytes(session) / 1048576.0, policies[options.policy], options.depth);
    print_top5(outputs[0].name, outputs[0].data, outputs[0].element_count);

    dl_stats stats = {.struct_size = sizeof stats};
    size_t layer_count = dl_model_layer_count(model);
    dl_layer_stats *layers = calloc(layer_count, sizeof *layers);
    if ((status = dl_session_stats(session, &stats, layers, layer_count)) != DL_OK) return fail("dl_session_stats", status);
    printf("stats: latency %.2f ms, read %llu bytes, peak weights %llu bytes, execute stalled %.2f ms\n",
           stats.latency_ns / 1e6, (unsigned long long)stats.bytes_read, (unsigned long long)stats.peak_weight_bytes,
           stats.execute_stall_ns / 1e6);
    // The three layers the execute thread waited for longest.
    for (int shown = 0; shown < 3 && (size_t)shown < layer_count; shown++) {
        size_t worst = 0;
        for (size_t index = 1; index < layer_count; index++) if (layers[index].stall_ns > layers[worst].stall_ns) worst = index;
        dl_layer_stats *times = &layers[worst];
        printf("  layer %3zu %-24s read %.3f ms, restore %.3f ms, execute %.3f ms, stall %.3f ms\n", worst,
               dl_model_layer_name(model, worst), (times->read.end_ns - times->read.start_ns) / 1e6,
               (times->restore.end_ns - times->restore.start_ns) / 1e6,
               (times->execute.end_ns - times->execute.start_ns) / 1e6, times->stall_ns / 1e6);
        times->stall_ns = 0;  // so the next pass finds the next longest
    }

    int result = 0;
    if (save_output && npy_write(save_output, outputs[0].data, first_output.shape, first_output.rank) != 0) result = 1;
    if (expect && compare(expect, outputs[0].data, outputs[0].element_count) != 0) result = 1;

    dl_session_destroy(session);
    dl_model_close(model);
    return result;
}
