// demandlayer.h: the C API of the demandlayer runtime (libdemandlayer.so).
//
// Runs a model in the demandlayer format (a NAME.dlm/ directory) by streaming
// its per-layer weight files from storage while earlier layers execute.
//
//   dl_model *model;
//   if (dl_model_open("resnet152.dlm", &model) != DL_OK) { puts(dl_last_error()); ... }
//   dl_session_options options;
//   dl_session_options_init(&options);            // defaults: pipelined, depth 2
//   dl_session *session;
//   dl_session_create(model, &options, &session);
//   dl_input in = { "input", pixels, shape, 4 };
//   dl_output out = { "output", probabilities, 1000 };
//   dl_session_run(session, &in, 1, &out, 1);
//   dl_session_destroy(session);
//   dl_model_close(model);
//
// Several models in one weight budget: a runtime. Its models stream through
// one shared ring, one request at a time, in the order its scheduler picks;
// run them from as many threads as you like.
//
//   dl_runtime_options options;
//   dl_runtime_options_init(&options);
//   options.budget_bytes = 64 << 20;              // every model's weights together
//   dl_runtime *runtime;
//   dl_runtime_create(&options, &runtime);
//   dl_runtime_model *detector, *classifier;
//   dl_runtime_add(runtime, yolo, "detector", &detector);   // yolo, resnet: dl_model handles,
//   dl_runtime_add(runtime, resnet, NULL, &classifier);     //   closable once added
//   dl_runtime_model_run(detector, &in, 1, &out, 1, 0, 0, NULL);   // priority 0, no deadline; any thread
//   dl_runtime_memory memory = {.struct_size = sizeof memory};
//   dl_runtime_stats(runtime, &memory);           // memory.peak_weight_bytes <= the budget
//   dl_runtime_destroy(runtime);                  // removes the models still in it
//
// Conventions, for every function below:
//   - Functions return DL_OK (0) or a nonzero dl_status. On failure,
//     dl_last_error() describes why (with the layer, file and byte offset when
//     the failure concerns one) on the calling thread. Nothing is written to
//     out-parameters on failure.
//   - Every pointer and length is checked: NULL where a value is required, a
//     wrong shape, a buffer too small or an unknown name is an error code,
//     never a crash. (A pointer that is not NULL but points to too little
//     memory cannot be checked: lengths you pass must be true.)
//   - Handles are opaque. A handle passed to a close/destroy function must not
//     be used again; closing NULL does nothing.
//
// Lifetime: a session keeps what it needs of its model, so the model may be
// closed while sessions made from it are still in use. Strings and shapes
// returned by the dl_model_* introspection functions stay valid until that
// model handle is closed.
//
// A runtime model keeps what it needs of its model too: the dl_model may be
// closed after dl_runtime_add. dl_runtime_remove frees a dl_runtime_model
// handle; dl_runtime_destroy removes every model still in the runtime and
// frees their handles.
//
// Threads: a model handle may be used from any number of threads at once. A
// session may be used from any thread; calls on one session are serialized
// (a second dl_session_run waits for the first). Do not destroy a session
// while another thread is inside a call on it. Each session owns three stage
// threads (dl-read, dl-restore, dl-exec) from create to destroy.
//
// A runtime and its models may be called from any threads at once:
// dl_runtime_model_run from many (each call blocks until its request is done;
// requests execute one at a time), and dl_runtime_add, dl_runtime_remove and
// dl_runtime_stats while requests run. Removing a model fails its requests
// still waiting with DL_ERROR_SESSION_CLOSED and lets the running one finish.
// Do not destroy a runtime while another thread is inside a call on it or on
// one of its models. Each model added owns three stage threads until removed.
//
// Build: `pkg-config --cflags --libs demandlayer` after Tools/install-lib.sh,
// or see README.md, "Using the library", for the flags by hand.
#ifndef DEMANDLAYER_H
#define DEMANDLAYER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Version of this header's API; bumped when a struct or function changes.
/// 2: dl_runtime_* (several models, one budget), DL_POLICY_DEEPEYE and
/// DL_POLICY_PARTIAL.
/// 3: typed outputs: dl_dtype, dl_model_output_dtype and dl_output_copy_as
/// (an int64, int32 or bool output is still written as exact floats by the
/// run functions; dl_output_copy_as gives it in its declared type).
#define DL_API_VERSION 3

/// The largest tensor rank the API reports or accepts.
#define DL_MAX_RANK 8

/// What a function returns: DL_OK, or why it failed (see dl_last_error()).
typedef enum dl_status {
    DL_OK = 0,
    /// A NULL pointer, a zero length, a wrong struct_size or another bad argument.
    DL_ERROR_INVALID_ARGUMENT = 1,
    /// The model directory is missing, unreadable, of a newer version or inconsistent.
    DL_ERROR_INVALID_MODEL = 2,
    /// A session or runtime option is out of range (depth, threads, budget, reserve).
    DL_ERROR_INVALID_OPTION = 3,
    /// The budget (a runtime's ring or held reserve) is below the least the model can run in
    /// (the message says how much that is).
    DL_ERROR_BUDGET_TOO_SMALL = 4,
    /// The filesystem refuses O_DIRECT and the chosen IO engine needs it.
    DL_ERROR_DIRECT_IO_NOT_SUPPORTED = 5,
    /// The chosen IO engine cannot be used here (io_uring disabled, for example).
    DL_ERROR_IO_ENGINE_UNAVAILABLE = 6,
    /// A layer file could not be opened.
    DL_ERROR_OPEN_FAILED = 7,
    /// A layer file could not be read (EIO, a file truncated after open).
    DL_ERROR_READ_FAILED = 8,
    /// A layer file's bytes do not match the CRC-32C in the manifest.
    DL_ERROR_CHECKSUM_MISMATCH = 9,
    /// An input is missing, unknown or of the wrong shape, or an output name is unknown.
    DL_ERROR_INVALID_INPUT = 10,
    /// An output buffer holds fewer elements than the output has.
    DL_ERROR_BUFFER_TOO_SMALL = 11,
    /// The inference was stopped before it finished, or a runtime request
    /// passed its deadline (the message says which).
    DL_ERROR_CANCELLED = 12,
    /// The session has been closed, or the runtime model removed.
    DL_ERROR_SESSION_CLOSED = 13,
    /// dl_session_stats was called before any inference finished.
    DL_ERROR_NO_STATS = 14,
    /// An operator failed on the values it was given (a Gather index out of range).
    DL_ERROR_OPERATOR_FAILED = 15,
} dl_status;

/// How a session gets weights from storage to the kernels. All policies give
/// bit-identical outputs; they differ in memory held and latency.
typedef enum dl_policy {
    /// Read, restore and execute overlap, inside a ring of `depth`/`budget_bytes`.
    DL_POLICY_PIPELINED = 0,
    /// All weights read once when the session is created, then held.
    DL_POLICY_RESIDENT = 1,
    /// Read every layer, then execute every layer.
    DL_POLICY_BULK = 2,
    /// Read one layer, run it, release it: least memory, no overlap.
    DL_POLICY_LINEAR = 3,
    /// Map the layer files and let page faults load them.
    DL_POLICY_MMAP = 4,
    /// The layers before the first fully connected one (Gemm or MatMul with a
    /// weight) as linear; that layer and the rest read from the start of each
    /// run by a second reader thread into an arena of their own.
    DL_POLICY_DEEPEYE = 5,
    /// Every layer queued for reading at the start of each run into an arena
    /// for the whole model; each layer runs as soon as its bytes are in.
    DL_POLICY_PARTIAL = 6,
} dl_policy;

/// Which kernel interface reads the layer files.
typedef enum dl_io_engine {
    /// The best that works here: io_uring, else libaio, else pread.
    DL_IO_AUTO = 0,
    DL_IO_URING = 1,
    DL_IO_AIO = 2,
    DL_IO_PREAD = 3,
} dl_io_engine;

/// Where a session's stage threads run.
typedef enum dl_placement {
    /// When the kernel threads leave a CPU free and no other session's
    /// execute thread holds it: execute on that CPU, read and restore on the
    /// CPU taking the disk's interrupts. Otherwise not pinned.
    DL_PLACEMENT_AUTO = 0,
    /// Not pinned: the scheduler places the threads.
    DL_PLACEMENT_NONE = 1,
    /// Execute on `execute_cpu`, read and restore on `stages_cpu`.
    DL_PLACEMENT_CPUS = 2,
} dl_placement;

/// Options for dl_session_create. Fill with dl_session_options_init, then
/// change the fields you care about.
typedef struct dl_session_options {
    /// sizeof(dl_session_options), set by dl_session_options_init; lets the
    /// library tell which version of this struct the caller was built with.
    size_t struct_size;
    dl_policy policy;
    /// Pipelined: layers sure to fit ahead of the one executing (>= 1). Default 2.
    int32_t depth;
    /// Pipelined: the weight memory budget in bytes, everything included (the
    /// read ring, layers held resident, the held parts of layers split into
    /// pieces). The session plans how to spend it: which layers stay resident,
    /// how big the ring is, which large layers are read and run in pieces
    /// (the output is bit-identical). A budget below the least the model can
    /// run in fails with DL_ERROR_BUDGET_TOO_SMALL, the message stating that
    /// least. Planning needs each layer's cost: the first session with a
    /// budget measures it (a few runs) and saves it as profile.json in the
    /// model directory when it can. 0: no plan; the ring is the smallest that
    /// lets `depth` layers be ahead everywhere, every layer read whole. Default 0.
    uint64_t budget_bytes;
    dl_io_engine io_engine;
    /// Threads the kernels use; 0 means all cores but one (at least one).
    /// The stage threads are extra. The count is per process (the kernels'
    /// pool; OpenBLAS, where it is the GEMM, runs on one thread).
    int32_t threads;
    /// Where the stage threads run. Default DL_PLACEMENT_AUTO. (Added after
    /// the first release: a caller built with the struct ending at `threads`
    /// passes that smaller struct_size and gets the default.)
    dl_placement placement;
    /// DL_PLACEMENT_CPUS: the CPU numbers (as in /proc/cpuinfo), both in the
    /// process's affinity mask. Default -1.
    int32_t execute_cpu;
    int32_t stages_cpu;
} dl_session_options;

/// Which waiting request a runtime starts next.
typedef enum dl_scheduling {
    /// In the order the requests arrived.
    DL_SCHEDULING_FIFO = 0,
    /// Highest `priority` first; among equals, the earliest deadline, then arrival.
    DL_SCHEDULING_PRIORITY = 1,
    /// The shortest predicted latency first (the planner's prediction for each
    /// model); among equals, arrival. Lowest mean latency, but a long model
    /// waits while shorter requests keep arriving.
    DL_SCHEDULING_SHORTEST = 2,
} dl_scheduling;

/// Options for dl_runtime_create. Fill with dl_runtime_options_init, set
/// `budget_bytes`, then change the other fields you care about.
typedef struct dl_runtime_options {
    /// sizeof(dl_runtime_options), set by dl_runtime_options_init.
    size_t struct_size;
    /// All the weight memory the runtime's models hold at once, in bytes:
    /// one ring every model streams through, plus `held_reserve_bytes` for
    /// what models keep outside it (the small tensors of layers read in
    /// pieces, a float16 model's widening arena). Nothing is held resident:
    /// each model is planned against the whole ring when added, and requests
    /// take turns. Required: 0 is DL_ERROR_INVALID_OPTION. (Activation memory
    /// is apart: one arena shared by the models, the size of the largest.)
    uint64_t budget_bytes;
    /// Of the budget, the bytes kept for what models hold outside the ring.
    /// 0: a sixteenth of the budget, at least 64 KiB. Default 0.
    uint64_t held_reserve_bytes;
    /// Which waiting request runs next. Default DL_SCHEDULING_FIFO.
    dl_scheduling scheduling;
    /// Which kernel interface reads the layer files, for every model. Default DL_IO_AUTO.
    dl_io_engine io_engine;
    /// Threads the kernels use; 0 means all cores but one (at least one).
    /// The count is per process (the kernels' pool; OpenBLAS, where it is the
    /// GEMM, runs on one thread).
    int32_t threads;
    /// Where the stage threads run, as for a session; resolved once for all
    /// the models. Default DL_PLACEMENT_AUTO.
    dl_placement placement;
    /// DL_PLACEMENT_CPUS: the CPU numbers, as in dl_session_options. Default -1.
    int32_t execute_cpu;
    int32_t stages_cpu;
    /// How many requests execute at once, each in its own share of the ring
    /// (`ring_bytes` each; every model is opened once per lane). 0 or 1: one,
    /// with the whole ring (default 0). More finish more requests a second
    /// where one model's kernels leave cores idle.
    int32_t lanes;
} dl_runtime_options;

/// The weight memory of a runtime, in bytes (see dl_runtime_stats).
typedef struct dl_runtime_memory {
    /// sizeof(dl_runtime_memory): set it before calling dl_runtime_stats.
    size_t struct_size;
    /// The budget the runtime was made with: `ring_bytes + held_reserve_bytes` at most.
    uint64_t budget_bytes;
    /// The ring a request streams through (one per lane).
    uint64_t ring_bytes;
    /// Of the budget, the part kept for what models hold outside the ring.
    uint64_t held_reserve_bytes;
    /// What the models in the runtime hold outside the ring now, together.
    uint64_t held_bytes;
    /// The shared activation arena: the largest of the models that have run.
    uint64_t activation_bytes;
    /// The most weight bytes held at once since the runtime was made: the
    /// ring's peak plus every model's held bytes. At most `budget_bytes`.
    uint64_t peak_weight_bytes;
} dl_runtime_memory;

/// What one request of dl_runtime_model_run did, if asked for.
typedef struct dl_request_stats {
    /// sizeof(dl_request_stats): set it before calling dl_runtime_model_run.
    size_t struct_size;
    /// From the call to the request's turn to execute: waiting behind other
    /// requests (its reads may start earlier, into the bytes the request
    /// before it gives back).
    uint64_t wait_ns;
    /// From its turn to execute to its outputs: the model's own latency.
    uint64_t service_ns;
    /// Its place in the order the runtime executed requests, from 0.
    uint64_t sequence_number;
    /// Weight bytes read from storage for this request.
    uint64_t bytes_read;
    /// Time the execute thread waited for this request's weights.
    uint64_t execute_stall_ns;
} dl_request_stats;

/// A graph input or output, as the model declares it.
typedef struct dl_value_info {
    /// NUL-terminated; valid until the model handle is closed.
    const char *name;
    /// 0 for a scalar (a sample rate, a total): no dimensions, one element.
    size_t rank;
    /// `rank` dimensions, outermost first; valid until the model handle is closed.
    const int64_t *shape;
    /// The product of the dimensions (1 for a scalar): how many floats the tensor holds.
    size_t element_count;
} dl_value_info;

/// The element type a graph output is declared with (manifest version 3).
/// The run functions write every output as float32; a typed output's floats
/// are exact (whole numbers below 2^24 in magnitude, or 0 and 1 for a bool:
/// an inference whose value would not be fails with DL_ERROR_OPERATOR_FAILED
/// naming the output), and dl_output_copy_as converts them.
typedef enum dl_dtype {
    DL_DTYPE_FLOAT32 = 0,
    /// int64_t per element (ArgMax, TopK indices).
    DL_DTYPE_INT64 = 1,
    /// int32_t per element.
    DL_DTYPE_INT32 = 2,
    /// uint8_t per element, 0 or 1 (numpy's bool; a comparison, a mask).
    DL_DTYPE_BOOL = 3,
    /// int8_t per element (a QuantizeLinear output).
    DL_DTYPE_INT8 = 4,
    /// uint8_t per element (a QuantizeLinear output).
    DL_DTYPE_UINT8 = 5,
} dl_dtype;

/// One input of dl_session_run or dl_runtime_model_run: `name` and `shape`
/// must match the model's declaration (see dl_model_input); `data` holds the
/// product of the dimensions in float32, row-major (an integer input such as
/// token ids is passed as floats too, exact below 2^24). The library copies
/// it before running and does not keep the pointer. A scalar input has rank 0
/// (`shape` may then be NULL) and one float in `data`.
typedef struct dl_input {
    const char *name;
    const float *data;
    const int64_t *shape;
    size_t rank;
} dl_input;

/// One output of dl_session_run or dl_runtime_model_run: the library writes
/// the output called `name` into `data`, which holds `capacity` floats. The
/// size needed is known before the run: dl_model_output(...).element_count
/// (shapes are static). On success `element_count` is set to the number of
/// floats written.
typedef struct dl_output {
    const char *name;
    float *data;
    size_t capacity;
    size_t element_count;
} dl_output;

/// One stage of one layer during an inference, in nanoseconds since the
/// inference started (monotonic clock). A stage that did not run for the
/// layer (no read under the resident policy) has start == end == 0.
typedef struct dl_span {
    uint64_t start_ns;
    uint64_t end_ns;
} dl_span;

/// What one inference did for one layer.
typedef struct dl_layer_stats {
    dl_span read;
    dl_span restore;
    dl_span execute;
    /// Time the execute thread waited for this layer's weights to be ready.
    uint64_t stall_ns;
} dl_layer_stats;

/// What the most recent successful inference of a session did.
typedef struct dl_stats {
    /// sizeof(dl_stats): set it before calling dl_session_stats.
    size_t struct_size;
    /// Wall time from dl_session_run's start to outputs ready.
    uint64_t latency_ns;
    /// Weight bytes read from storage by this inference.
    uint64_t bytes_read;
    /// Most weight bytes held in memory at once.
    uint64_t peak_weight_bytes;
    /// Total time the execute thread waited for weights (sum of stall_ns).
    uint64_t execute_stall_ns;
    /// Number of layers (the entries dl_session_stats can fill).
    size_t layer_count;
} dl_stats;

/// Opaque: an opened, validated model. Holds no file open and no weights.
typedef struct dl_model dl_model;
/// Opaque: a model ready to run, with its memory, IO engine and stage threads.
typedef struct dl_session dl_session;
/// Opaque: several models sharing one weight budget: the ring, the activation
/// arena and the scheduler deciding which request runs next.
typedef struct dl_runtime dl_runtime;
/// Opaque: one model added to a runtime, with its files, IO engine and stage
/// threads; run it with dl_runtime_model_run.
typedef struct dl_runtime_model dl_runtime_model;

/// The message describing the most recent failure on the calling thread, or
/// "" if none. Valid until the next failing call on this thread.
const char *dl_last_error(void);

/// Opens and validates the model directory at `path` (manifest, every layer
/// file's presence and size, every operator and shape). Reads no weights.
dl_status dl_model_open(const char *path, dl_model **model_out);

/// Releases a model handle. Sessions made from it keep working. NULL is ignored.
void dl_model_close(dl_model *model);

/// The model's name (from its manifest); valid until the model is closed.
const char *dl_model_name(const dl_model *model);
/// Number of graph inputs (0 if `model` is NULL).
size_t dl_model_input_count(const dl_model *model);
/// Number of graph outputs (0 if `model` is NULL).
size_t dl_model_output_count(const dl_model *model);
/// Describes input `index` (0-based, in declaration order) into `*info_out`.
dl_status dl_model_input(const dl_model *model, size_t index, dl_value_info *info_out);
/// Describes output `index` (0-based, in declaration order) into `*info_out`.
dl_status dl_model_output(const dl_model *model, size_t index, dl_value_info *info_out);
/// The declared element type of output `index` into `*dtype_out`: DL_DTYPE_FLOAT32
/// for a float output, else the type dl_output_copy_as gives it in. (API version 3.)
dl_status dl_model_output_dtype(const dl_model *model, size_t index, dl_dtype *dtype_out);
/// Copies an output a run function wrote (`output->element_count` floats at
/// `output->data`) into `data` as `dtype`: int64_t, int32_t, int8_t, uint8_t, uint8_t 0/1 for
/// DL_DTYPE_BOOL, or float. `capacity` is in elements. Every value must be
/// exact in `dtype` (a whole number below 2^24 in magnitude for the integer
/// types, 0 or 1 for bool, which a typed output's values are); otherwise
/// DL_ERROR_OPERATOR_FAILED names the output and the element, and `data` is
/// not written. DL_ERROR_BUFFER_TOO_SMALL when `capacity` is short.
/// (API version 3.)
dl_status dl_output_copy_as(const dl_output *output, dl_dtype dtype, void *data, size_t capacity);
/// Number of layers, the unit of reading (0 if `model` is NULL).
size_t dl_model_layer_count(const dl_model *model);
/// Layer `index`'s name, or NULL if out of range; valid until the model is closed.
const char *dl_model_layer_name(const dl_model *model, size_t index);
/// Bytes of all weight files: what one streaming inference reads.
uint64_t dl_model_weight_bytes(const dl_model *model);

/// Fills `*options` with the defaults (pipelined, depth 2, smallest budget,
/// auto IO, all cores but one for the kernels) and sets its struct_size.
void dl_session_options_init(dl_session_options *options);

/// Makes a session: opens the layer files, allocates the weight and
/// activation memory once, starts the stage threads (and, for the resident
/// policy, reads every layer). `options` NULL means the defaults.
dl_status dl_session_create(const dl_model *model, const dl_session_options *options, dl_session **session_out);

/// Runs one inference. `inputs` must name every graph input exactly once with
/// its declared shape. `outputs` names the outputs wanted (any subset, at
/// least one); each gets its `element_count` set on success. On failure no
/// output buffer is written and the session stays usable.
dl_status dl_session_run(dl_session *session, const dl_input *inputs, size_t input_count,
                         dl_output *outputs, size_t output_count);

/// Statistics of the most recent successful dl_session_run on `session`.
/// `stats_out->struct_size` must be set to sizeof(dl_stats). `layers` may be
/// NULL; otherwise the first min(layer_capacity, layer_count) entries, in
/// layer order, are filled.
dl_status dl_session_stats(const dl_session *session, dl_stats *stats_out,
                           dl_layer_stats *layers, size_t layer_capacity);

/// Bytes of weight memory the session holds for its whole life: the ring
/// layer files are read into (0 for the mmap policy; for the deepeye policy,
/// with the fully connected layers' arena) plus, for a model with float16
/// weights, the arena they are widened into.
uint64_t dl_session_arena_bytes(const dl_session *session);

/// Stops and joins the session's threads, closes its files, frees its
/// memory. NULL is ignored.
void dl_session_destroy(dl_session *session);

/// Fills `*options` with the defaults (no budget: set budget_bytes; held
/// reserve a sixteenth of it, FIFO scheduling, auto IO, all cores but one for
/// the kernels, automatic placement) and sets its struct_size.
void dl_runtime_options_init(dl_runtime_options *options);

/// Makes a runtime holding at most `options->budget_bytes` of weights:
/// allocates its ring. `options` is required (for the budget). A budget or
/// reserve out of range is DL_ERROR_INVALID_OPTION.
dl_status dl_runtime_create(const dl_runtime_options *options, dl_runtime **runtime_out);

/// Opens `model` in the runtime under `name` (NULL: the model's own name,
/// which only error messages use), planned against the whole ring: opens its
/// layer files, reads what it holds outside the ring, starts its stage
/// threads. The plan needs the model's profile: the one saved in the model
/// directory, else one measured now (a few runs, outside the budget) and
/// saved there when it can be. DL_ERROR_BUDGET_TOO_SMALL when the ring is
/// below the least the model streams through, or what it holds outside the
/// ring does not fit what is left of the held reserve (the message gives the
/// numbers). The model handle may be closed afterwards.
dl_status dl_runtime_add(dl_runtime *runtime, const dl_model *model, const char *name,
                         dl_runtime_model **member_out);

/// Takes `member` out of `runtime` and frees its handle: its waiting requests
/// fail with DL_ERROR_SESSION_CLOSED, the running one (if any) finishes, then
/// its threads stop, its files close and its held bytes go back to the
/// reserve. A member of another runtime is DL_ERROR_INVALID_ARGUMENT.
dl_status dl_runtime_remove(dl_runtime *runtime, dl_runtime_model *member);

/// Removes every model still in the runtime (freeing their handles), then
/// frees the runtime. NULL is ignored.
void dl_runtime_destroy(dl_runtime *runtime);

/// Runs one inference of `member` once the runtime's scheduler gets to it,
/// blocking until it is done; call it from as many threads at once as you
/// like. Inputs and outputs as for dl_session_run: `inputs` names every graph
/// input once with its declared shape, `outputs` any subset of the outputs
/// (at least one), each getting its `element_count` on success. `priority`
/// counts under DL_SCHEDULING_PRIORITY (higher first). `timeout_ns` (0: none)
/// is a deadline from this call: a request still waiting or running then
/// fails with DL_ERROR_CANCELLED, and one past it before it starts reads
/// nothing. `request_out` may be NULL; otherwise its struct_size must be
/// sizeof(dl_request_stats), and it is filled on success. On failure no
/// output buffer is written and the model stays usable.
dl_status dl_runtime_model_run(dl_runtime_model *member, const dl_input *inputs, size_t input_count,
                               dl_output *outputs, size_t output_count, int32_t priority, uint64_t timeout_ns,
                               dl_request_stats *request_out);

/// The runtime's weight memory now, and its peak. `stats_out->struct_size`
/// must be set to sizeof(dl_runtime_memory).
dl_status dl_runtime_stats(const dl_runtime *runtime, dl_runtime_memory *stats_out);

#ifdef __cplusplus
}
#endif

#endif
