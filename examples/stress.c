/*
 * stress: exercises libcamb's lifetimes and threading for memory checkers
 * (valgrind, AddressSanitizer) and as a correctness check of its own.
 *
 *   usage: stress BASE_URL [--threads N] [--calls N] [--clients N] [--workflows N]
 *
 * The API key is read from CAMB_API_KEY. BASE_URL is a camb-emulator's URL: the
 * program relies on its demo tasks (demo-success, demo-error, demo-unknown,
 * demo-pending) and on its replies; it first waits until they are final, so the
 * emulator may be started with any --pending-ms.
 *
 * Everything libcamb hands over is the caller's and is freed here: each camb_task
 * with camb_task_free(), each list with its _free(), each task id and URL with
 * camb_string_free(), each job once its queue handed it back; a memory checker
 * sees any of them leak or be read after it was freed. A handle is never used
 * after its _free (or a builder after its build): that is undefined, not checked.
 *
 * Phase 1 (--clients N iterations, default 100), one thread: each iteration
 *   - builds a client with the builder (every setter), makes one status call
 *     (rotating over demo-success, demo-error, demo-unknown and a missing id),
 *     reads the task through every accessor, frees it and the client;
 *   - creates and frees clients with camb_client_new (explicit key and
 *     CAMB_API_KEY; their default base URL is the real API, so they make no call);
 *   - frees a builder with settings without building it;
 *   - builders whose setters refused a value: the build fails with the first
 *     refusal and camb_last_error() names that setter (set_base_url of
 *     "https://h/x?y=1", then a good URL: still INVALID_PARAMETER);
 *   - calls every function with bad input (NULL in each pointer, invalid UTF-8,
 *     empty, oversized and out-of-range values, options whose struct_size is
 *     larger than camb.h's or 0, a generate's path in a missing directory) and
 *     checks the documented code, that out-parameters are left unchanged on
 *     failure, and camb_last_error() / camb_last_http_status() after every call;
 *     every blocking network call with a cancelled token: CANCELLED, nothing sent;
 *   - every _free function with NULL (a no-op) and every accessor of camb_task,
 *     camb_task_list and camb_audio_url_list with NULL, none of which touches
 *     camb_last_error().
 *   Once: CAMB_API_KEY unset (MISSING_API_KEY) and unusable (INVALID_PARAMETER).
 * Workflow (--workflows N rounds, default 2): create a task (its id freed at the
 *   end, after every other call), wait for it with a progress callback, download
 *   its audio (whole, stopped by the callback, cancelled by a token), ask for its
 *   URL, ask for many URLs at once (a camb_audio_url_list), save it to a file; a
 *   wait that times out and one that is cancelled; a run that did not succeed and
 *   one that does not exist; camb_client_generate (with and without its outputs,
 *   a task that fails, cancelled by a token and by its progress callback);
 *   options with a smaller struct_size (an older program: the fields past it are
 *   not read, the ones within it are);
 *   a batch of statuses (a camb_task_list with successes, a 404 and refused ids)
 *   whose tasks are read again, and must say the same, after other status calls,
 *   another batch and failures were made meanwhile, then read by 4 threads at once;
 *   a camb_task made on one thread and read and freed on another, both ways.
 * Jobs (once per workflow round), on a client with 3 job threads:
 *   - camb_client_builder_set_job_threads out of range; the log function's
 *     finalizer called exactly once: on the client's free (also with jobs in
 *     flight, and no line after it), on the builder's free, on a failed build,
 *     when another function replaces it; never for a refused set_log;
 *   - every camb_client_job_* function with each of its bad arguments: the
 *     documented code, no job made; camb_job_submit with NULL; every job and
 *     queue function with NULL and bad arguments;
 *   - a job of every kind made and freed, never submitted (state NEW, no output);
 *     one cancelled before its submit (delivered CANCELLED); one submitted twice
 *     (refused, delivered once), and again once delivered (refused);
 *   - camb_queue_wait timing out (0 and 150 ms, nothing written), and a thread in
 *     camb_queue_wait(UINT32_MAX) woken by a job;
 *   - a job of every kind (status, a missing status, create, wait, download into
 *     memory and of a missing run, save, audio URL, audio URLs, batch, generate,
 *     a generation whose task fails), checked through every accessor and freed:
 *     taken with poll(2) and camb_queue_pop, then with camb_queue_wait, then three
 *     of each by 4 threads in camb_queue_wait and this one popping, each job
 *     exactly once (its camb_job_user_data is its record);
 *   - jobs cancelled while waiting between polls: CANCELLED, once; a second
 *     cancel changes nothing. Jobs freed in flight (waiting, or right after their
 *     submit): that only cancels; each is delivered, then freed;
 *   - a queue freed with jobs in flight (cancelled first, or left to the client's
 *     free), and one freed with delivered jobs on it: libcamb frees them;
 *   - a queue shared by two clients; one of them freed with jobs in flight on it
 *     (delivered CANCELLED), the other's job untouched;
 *   - the client freed with waits, a generation and status jobs in flight: each
 *     on the queue, CANCELLED, when camb_client_free returns; a job made and not
 *     submitted can no longer be (INVALID_PARAMETER), and is freed.
 * Phase 2: --threads N threads (default 8) share ONE client and make --calls N
 *   status calls each (default 200), rotating over demo-success, demo-error,
 *   demo-unknown and an id unique to the thread and call (404). Each result is
 *   checked, and each thread's camb_last_error() must describe its own last call
 *   (a success: ""; a 404: the message names this thread's own id). Each thread
 *   keeps its last demo-unknown task alive across its later calls (and the other
 *   threads'), and its strings must stay the same.
 *
 * Prints one summary line. Exit status: 0 when every check passed, 1 when any
 * failed, 2 on bad usage or setup failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

/* ---------------------------------------------------------------- checks */

static atomic_ulong g_checks;
static atomic_ulong g_failures;

enum { MAX_FAILURES_SHOWN = 40 };

static void report_failure(const char *format, ...) {
    unsigned long n = atomic_fetch_add(&g_failures, 1);
    if (n < MAX_FAILURES_SHOWN) {
        va_list args;
        va_start(args, format);
        flockfile(stderr);
        fputs("FAIL: ", stderr);
        vfprintf(stderr, format, args);
        fputc('\n', stderr);
        funlockfile(stderr);
        va_end(args);
    } else if (n == MAX_FAILURES_SHOWN) {
        fputs("FAIL: (further failures not shown)\n", stderr);
    }
}

#define CHECK(cond, ...)                        \
    do {                                        \
        atomic_fetch_add(&g_checks, 1);         \
        if (!(cond)) {                          \
            report_failure(__VA_ARGS__);        \
        }                                       \
    } while (0)

/*
 * Checks a call's result, and that this thread's last error agrees with it:
 * "" and HTTP 0 after a success, a non-empty text after a failure, and the HTTP
 * status `want_http` (0: none) after a failure. Must be called right after the call.
 */
static bool expect_http(camb_result got, camb_result want, uint16_t want_http, const char *what) {
    const char *error = camb_last_error();
    uint16_t http = camb_last_http_status();
    bool ok = got == want;
    CHECK(ok, "%s: got %s (%" PRIu32 "), want %s; last error: \"%s\"", what,
          camb_result_name(got), (uint32_t)got, camb_result_name(want), error);
    CHECK(error != NULL, "%s: camb_last_error() returned NULL", what);
    if (error == NULL) {
        return false;
    }
    if (want == CAMB_RESULT_OK) {
        CHECK(error[0] == '\0' && http == 0,
              "%s: succeeded but camb_last_error() is \"%s\" and the HTTP status %u", what, error,
              (unsigned)http);
    } else {
        CHECK(error[0] != '\0', "%s: failed with an empty camb_last_error()", what);
        CHECK(http == want_http, "%s: camb_last_http_status() is %u, want %u", what,
              (unsigned)http, (unsigned)want_http);
    }
    return ok;
}

static bool expect(camb_result got, camb_result want, const char *what) {
    return expect_http(got, want, 0, what);
}

/* Checks that this thread's camb_last_error() contains `part`. */
static void expect_error_mentions(const char *part, const char *what) {
    const char *error = camb_last_error();
    CHECK(error != NULL && strstr(error, part) != NULL,
          "%s: camb_last_error() does not mention %s: \"%s\"", what, part,
          error != NULL ? error : "(NULL)");
}

/* True when `text` is `want`: `len` bytes, then a NUL. */
static bool same_text(const char *text, size_t len, const char *want) {
    return text != NULL && len == strlen(want) && memcmp(text, want, len) == 0 && text[len] == '\0';
}

/* As same_text(), where a NULL `want` means none: a NULL text and a length of 0. */
static bool optional_text_is(const char *text, size_t len, const char *want) {
    return want == NULL ? text == NULL && len == 0 : same_text(text, len, want);
}

static const char *shown(const char *text) {
    return text != NULL ? text : "(NULL)";
}

/*
 * Out-parameters that a failed call must leave alone start as these: addresses
 * that libcamb never returns, never dereferenced or freed here.
 */
static char g_sentinels[4];
#define SENTINEL_TASK ((camb_task *)(void *)&g_sentinels[0])
#define SENTINEL_TASK_LIST ((camb_task_list *)(void *)&g_sentinels[1])
#define SENTINEL_URL_LIST ((camb_audio_url_list *)(void *)&g_sentinels[2])
#define SENTINEL_STRING (&g_sentinels[3])

/* ---------------------------------------------------------------- settings */

static const char *g_base_url;
static const char *g_api_key;

enum { TIMEOUT_MS = 20000 };

/* A client for the emulator, built with every setter; NULL (and a failure) if not. */
static camb_client *emulator_client(void) {
    camb_client_builder *builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder == NULL) {
        return NULL;
    }
    expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK, "set_api_key");
    expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK, "set_base_url");
    expect(camb_client_builder_set_timeout_ms(builder, TIMEOUT_MS), CAMB_RESULT_OK,
           "set_timeout_ms");
    expect(camb_client_builder_set_max_retries(builder, 1), CAMB_RESULT_OK, "set_max_retries");
    expect(camb_client_builder_set_allow_insecure_http(builder, false), CAMB_RESULT_OK,
           "set_allow_insecure_http");
    camb_client *client = NULL;
    if (!expect(camb_client_builder_build(builder, &client), CAMB_RESULT_OK, "build")) {
        return NULL;
    }
    CHECK(client != NULL, "build succeeded but wrote NULL");
    /* The builder is spent: using or freeing it now is undefined, so it is not touched. */
    return client;
}

/* ---------------------------------------------------------------- time */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- tasks */

enum task_kind { KIND_SUCCESS, KIND_ERROR, KIND_UNKNOWN, KIND_MISSING, KIND_COUNT };

static const char *kind_id(enum task_kind kind) {
    switch (kind) {
    case KIND_SUCCESS:
        return "demo-success";
    case KIND_ERROR:
        return "demo-error";
    case KIND_UNKNOWN:
        return "demo-unknown";
    default:
        return NULL;
    }
}

/* What a camb_task must say, accessor by accessor; NULL strings: none. */
struct want_task {
    camb_result result;
    uint16_t http_status;
    camb_status status;
    const char *status_text;
    bool has_run_id;
    int64_t run_id;
    const char *exception_reason;
    const char *message;
};

static const struct want_task WANT_SUCCESS = {
    CAMB_RESULT_OK, 0, CAMB_STATUS_SUCCESS, "SUCCESS", true, 4242, NULL, NULL};
static const struct want_task WANT_ERROR = {
    CAMB_RESULT_OK, 0, CAMB_STATUS_ERROR, "ERROR", true, 4243, "PROCESSING_ERROR",
    "The audio model failed to render this prompt"};
static const struct want_task WANT_UNKNOWN = {
    CAMB_RESULT_OK, 0, CAMB_STATUS_UNKNOWN, "QUEUED_FOR_GPU", false, 0, NULL, NULL};
static const struct want_task WANT_NOT_FOUND = {
    CAMB_RESULT_NOT_FOUND, 404, CAMB_STATUS_UNKNOWN, NULL, false, 0, NULL, NULL};
static const struct want_task WANT_NULL_ID = {
    CAMB_RESULT_NULL_PARAMETER, 0, CAMB_STATUS_UNKNOWN, NULL, false, 0, NULL, NULL};
static const struct want_task WANT_INVALID_ID = {
    CAMB_RESULT_INVALID_PARAMETER, 0, CAMB_STATUS_UNKNOWN, NULL, false, 0, NULL, NULL};

static const struct want_task *want_for(enum task_kind kind) {
    switch (kind) {
    case KIND_SUCCESS:
        return &WANT_SUCCESS;
    case KIND_ERROR:
        return &WANT_ERROR;
    case KIND_UNKNOWN:
        return &WANT_UNKNOWN;
    default:
        return &WANT_NOT_FOUND;
    }
}

/*
 * Reads `task` through every accessor, with and without a length, and checks it
 * against `want`. `id` is the task id it must report (NULL: any NUL-terminated
 * text); `error_part`, for a task without a status, a text its camb_task_error()
 * must contain (NULL: any non-empty text).
 */
static void check_task(const camb_task *task, const char *id, const struct want_task *want,
                       const char *error_part, const char *what) {
    CHECK(task != NULL, "%s: no task", what);
    if (task == NULL) {
        return;
    }
    size_t len = 777;
    const char *text = camb_task_id(task, &len);
    if (id != NULL) {
        CHECK(same_text(text, len, id), "%s: camb_task_id is \"%s\" (%zu bytes), want \"%s\"",
              what, shown(text), len, id);
    } else {
        CHECK(text != NULL && strlen(text) == len, "%s: camb_task_id is not a string of its length",
              what);
    }
    CHECK(camb_task_id(task, NULL) == text, "%s: camb_task_id(NULL len) gave another pointer",
          what);

    camb_result result = camb_task_result(task);
    CHECK(result == want->result, "%s: camb_task_result is %s, want %s", what,
          camb_result_name(result), camb_result_name(want->result));
    uint16_t http = camb_task_http_status(task);
    CHECK(http == want->http_status, "%s: camb_task_http_status is %u, want %u", what,
          (unsigned)http, (unsigned)want->http_status);
    len = 777;
    text = camb_task_error(task, &len);
    if (want->result == CAMB_RESULT_OK) {
        CHECK(text == NULL && len == 0, "%s: camb_task_error is \"%s\" for a task with a status",
              what, shown(text));
    } else {
        CHECK(text != NULL && len > 0 && strlen(text) == len &&
                  (error_part == NULL || strstr(text, error_part) != NULL),
              "%s: camb_task_error is \"%s\", want a text with \"%s\"", what, shown(text),
              shown(error_part));
    }
    CHECK(camb_task_error(task, NULL) == text, "%s: camb_task_error(NULL len) gave another pointer",
          what);

    camb_status status = camb_task_status(task);
    CHECK(status == want->status, "%s: camb_task_status is %s, want %s", what,
          camb_status_name(status), camb_status_name(want->status));
    len = 777;
    text = camb_task_status_text(task, &len);
    CHECK(optional_text_is(text, len, want->status_text),
          "%s: camb_task_status_text is \"%s\" (%zu bytes), want \"%s\"", what, shown(text), len,
          shown(want->status_text));
    CHECK(camb_task_status_text(task, NULL) == text,
          "%s: camb_task_status_text(NULL len) gave another pointer", what);

    int64_t run_id = -7;
    bool has_run_id = camb_task_run_id(task, &run_id);
    CHECK(has_run_id == want->has_run_id && run_id == (has_run_id ? want->run_id : -7),
          "%s: camb_task_run_id is %d (%" PRId64 "), want %d (%" PRId64 ")", what,
          (int)has_run_id, run_id, (int)want->has_run_id, want->run_id);
    CHECK(camb_task_run_id(task, NULL) == has_run_id, "%s: camb_task_run_id(NULL) differs", what);

    len = 777;
    text = camb_task_exception_reason(task, &len);
    CHECK(optional_text_is(text, len, want->exception_reason),
          "%s: camb_task_exception_reason is \"%s\", want \"%s\"", what, shown(text),
          shown(want->exception_reason));
    CHECK(camb_task_exception_reason(task, NULL) == text,
          "%s: camb_task_exception_reason(NULL len) gave another pointer", what);
    len = 777;
    text = camb_task_message(task, &len);
    CHECK(optional_text_is(text, len, want->message), "%s: camb_task_message is \"%s\", want \"%s\"",
          what, shown(text), shown(want->message));
    CHECK(camb_task_message(task, NULL) == text,
          "%s: camb_task_message(NULL len) gave another pointer", what);
}

/*
 * One status call of `kind` (for KIND_MISSING, `missing_id`), checked in full,
 * including this thread's last error and every accessor of the task. On success
 * the task is handed to the caller in `*out` (to free); otherwise `*out` is NULL.
 * Returns the result.
 */
static camb_result checked_status_call(const camb_client *client, enum task_kind kind,
                                       const char *missing_id, camb_task **out) {
    const char *id = kind == KIND_MISSING ? missing_id : kind_id(kind);
    camb_task *task = SENTINEL_TASK;
    camb_result r = camb_client_get_task_status(client, id, NULL, &task);
    char what[160];
    snprintf(what, sizeof what, "get_task_status(%s)", id);
    const char *error = camb_last_error();
    *out = NULL;

    if (kind == KIND_MISSING) {
        if (expect_http(r, CAMB_RESULT_NOT_FOUND, 404, what)) {
            /* The message is this thread's own: it names this call's unique id. */
            CHECK(strstr(error, "404") != NULL && strstr(error, id) != NULL,
                  "%s: camb_last_error() is not this call's: \"%s\"", id, error);
            CHECK(task == SENTINEL_TASK, "%s: a failed call wrote its out-parameter", id);
        }
    } else if (expect(r, CAMB_RESULT_OK, what)) {
        check_task(task, id, want_for(kind), NULL, what);
        *out = task;
    }
    if (task != SENTINEL_TASK && task != *out) {
        camb_task_free(task); /* an unexpected success: still ours to free */
    }
    return r;
}

/* ---------------------------------------------------------------- phase 1 */

static char g_long_id[1026];   /* 1025 bytes: one over the limit */
static char g_max_id[1025];    /* 1024 bytes: the longest valid id */

/*
 * Builders whose setters refused a value. Each setter reports its own refusal at
 * once; the builder remembers the first, and build fails with it (consuming the
 * builder) with a camb_last_error() that names the setter, even when later
 * settings were accepted.
 */
static void builder_refusals(void) {
    camb_client *out = NULL;

    /* The brief case: a base URL with a query, then a good one. */
    camb_client_builder *builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        expect(camb_client_builder_set_base_url(builder, "https://h/x?y=1"),
               CAMB_RESULT_INVALID_PARAMETER, "set_base_url(https://h/x?y=1)");
        expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
               "set_api_key after a refused setting");
        expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK,
               "set_base_url(good) after a refused one");
        expect(camb_client_builder_build(builder, &out), CAMB_RESULT_INVALID_PARAMETER,
               "build after set_base_url(https://h/x?y=1) was refused");
        expect_error_mentions("camb_client_builder_set_base_url",
                              "build after set_base_url(https://h/x?y=1) was refused");
        CHECK(out == NULL, "a build refused for a setting wrote its out-parameter");
        /* consumed, as any build: not touched again */
    }

    /* Many refusals of every setter: the build fails with the first one's code. */
    builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        expect(camb_client_builder_set_api_key(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "set_api_key(NULL key)");
        expect(camb_client_builder_set_api_key(builder, "\xff\xfe-key"),
               CAMB_RESULT_INVALID_PARAMETER, "set_api_key(invalid UTF-8)");
        expect(camb_client_builder_set_api_key(builder, ""), CAMB_RESULT_INVALID_PARAMETER,
               "set_api_key(empty)");
        expect(camb_client_builder_set_api_key(builder, " key"), CAMB_RESULT_INVALID_PARAMETER,
               "set_api_key(leading space)");
        expect(camb_client_builder_set_api_key(builder, "k\xc3\xa9y"),
               CAMB_RESULT_INVALID_PARAMETER, "set_api_key(non-ASCII)");
        expect(camb_client_builder_set_api_key(builder, g_long_id), CAMB_RESULT_INVALID_PARAMETER,
               "set_api_key(1025 bytes)");
        expect(camb_client_builder_set_base_url(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "set_base_url(NULL)");
        expect(camb_client_builder_set_base_url(builder, "http://127.0.0.1:1/\xc3\x28"),
               CAMB_RESULT_INVALID_PARAMETER, "set_base_url(invalid UTF-8)");
        expect(camb_client_builder_set_base_url(builder, ""), CAMB_RESULT_INVALID_PARAMETER,
               "set_base_url(empty)");
        expect(camb_client_builder_set_base_url(builder, "ftp://127.0.0.1/"),
               CAMB_RESULT_INVALID_PARAMETER, "set_base_url(ftp)");
        expect(camb_client_builder_set_base_url(builder, "http://127.0.0.1:1/?q=1"),
               CAMB_RESULT_INVALID_PARAMETER, "set_base_url(query)");
        expect(camb_client_builder_set_base_url(builder, "http://user@127.0.0.1:1/"),
               CAMB_RESULT_INVALID_PARAMETER, "set_base_url(user info)");
        expect(camb_client_builder_set_timeout_ms(builder, 0), CAMB_RESULT_INVALID_PARAMETER,
               "set_timeout_ms(0)");
        expect(camb_client_builder_set_timeout_ms(builder, 86400001u),
               CAMB_RESULT_INVALID_PARAMETER, "set_timeout_ms(a day + 1)");
        expect(camb_client_builder_set_max_retries(builder, 11), CAMB_RESULT_INVALID_PARAMETER,
               "set_max_retries(11)");
        expect(camb_client_builder_set_ca_bundle_file(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "set_ca_bundle_file(NULL)");
        expect(camb_client_builder_set_ca_bundle_file(builder, "/nonexistent/camb-stress.pem"),
               CAMB_RESULT_INVALID_PARAMETER, "set_ca_bundle_file(no such file)");
        expect(camb_client_builder_set_ca_bundle_pem(builder, NULL, 0), CAMB_RESULT_NULL_PARAMETER,
               "set_ca_bundle_pem(NULL)");
        expect(camb_client_builder_set_ca_bundle_pem(builder, (const uint8_t *)"not pem", 7),
               CAMB_RESULT_INVALID_PARAMETER, "set_ca_bundle_pem(not PEM)");
        expect(camb_client_builder_set_proxy(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "set_proxy(NULL)");
        expect(camb_client_builder_set_proxy(builder, "socks5://127.0.0.1:1080"),
               CAMB_RESULT_INVALID_PARAMETER, "set_proxy(socks5)");
        /* Good settings after the refusals do not undo them. */
        expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
               "set_api_key after refusals");
        expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK,
               "set_base_url after refusals");
        expect(camb_client_builder_build(builder, &out), CAMB_RESULT_NULL_PARAMETER,
               "build after set_api_key(NULL) and other refusals");
        expect_error_mentions("camb_client_builder_set_api_key",
                              "build after set_api_key(NULL) and other refusals");
        CHECK(out == NULL, "a build refused for a setting wrote its out-parameter");
    }

    /* A refused setting and no build: freeing it frees everything (memcheck). */
    builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        expect(camb_client_builder_set_proxy(builder, "not a proxy"),
               CAMB_RESULT_INVALID_PARAMETER, "set_proxy(not a proxy)");
        camb_client_builder_free(builder);
    }

    /* A plain-http URL to a host that is not loopback: accepted by the setter,
     * refused by build. */
    builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
               "set_api_key");
        expect(camb_client_builder_set_base_url(builder, "http://example.com/apis"),
               CAMB_RESULT_OK, "set_base_url(http://example.com)");
        expect(camb_client_builder_build(builder, &out), CAMB_RESULT_INVALID_PARAMETER,
               "build(plain http to a remote host)");
        CHECK(out == NULL, "a failed build wrote its out-parameter");
        /* build consumed it even though it failed: not touched again */
    }

    builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        /* "a non-NULL builder is still consumed": a leak here would show in memcheck */
        expect(camb_client_builder_build(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "build(builder, NULL)");
    }
}

/*
 * Every _free function with NULL (a no-op) and every accessor with NULL objects:
 * nothing crashes, each gives its documented "none", and none of them touches
 * this thread's last error (which a failure sets first).
 */
static void null_objects(void) {
    camb_client *none = NULL;
    expect(camb_client_new("", &none), CAMB_RESULT_INVALID_PARAMETER, "client_new(empty key)");
    char before[512];
    snprintf(before, sizeof before, "%s", camb_last_error());

    camb_task_free(NULL);
    camb_task_list_free(NULL);
    camb_audio_url_list_free(NULL);
    camb_string_free(NULL);

    size_t len = 777;
    CHECK(camb_task_result(NULL) == CAMB_RESULT_NULL_PARAMETER, "camb_task_result(NULL)");
    CHECK(camb_task_error(NULL, &len) == NULL && len == 0, "camb_task_error(NULL)");
    CHECK(camb_task_error(NULL, NULL) == NULL, "camb_task_error(NULL, NULL)");
    CHECK(camb_task_http_status(NULL) == 0, "camb_task_http_status(NULL)");
    len = 777;
    const char *id = camb_task_id(NULL, &len);
    CHECK(id != NULL && id[0] == '\0' && len == 0, "camb_task_id(NULL) is not \"\"");
    id = camb_task_id(NULL, NULL);
    CHECK(id != NULL && id[0] == '\0', "camb_task_id(NULL, NULL) is not \"\"");
    CHECK(camb_task_status(NULL) == CAMB_STATUS_UNKNOWN, "camb_task_status(NULL)");
    len = 777;
    CHECK(camb_task_status_text(NULL, &len) == NULL && len == 0, "camb_task_status_text(NULL)");
    CHECK(camb_task_status_text(NULL, NULL) == NULL, "camb_task_status_text(NULL, NULL)");
    int64_t run_id = 99;
    CHECK(!camb_task_run_id(NULL, &run_id) && run_id == 99,
          "camb_task_run_id(NULL) said yes or wrote its out-parameter");
    CHECK(!camb_task_run_id(NULL, NULL), "camb_task_run_id(NULL, NULL)");
    len = 777;
    CHECK(camb_task_exception_reason(NULL, &len) == NULL && len == 0,
          "camb_task_exception_reason(NULL)");
    CHECK(camb_task_exception_reason(NULL, NULL) == NULL, "camb_task_exception_reason(NULL, NULL)");
    len = 777;
    CHECK(camb_task_message(NULL, &len) == NULL && len == 0, "camb_task_message(NULL)");
    CHECK(camb_task_message(NULL, NULL) == NULL, "camb_task_message(NULL, NULL)");

    CHECK(camb_task_list_len(NULL) == 0, "camb_task_list_len(NULL)");
    CHECK(camb_task_list_get(NULL, 0) == NULL, "camb_task_list_get(NULL, 0)");
    CHECK(camb_task_list_get(NULL, SIZE_MAX) == NULL, "camb_task_list_get(NULL, SIZE_MAX)");

    CHECK(camb_audio_url_list_len(NULL) == 0, "camb_audio_url_list_len(NULL)");
    run_id = 99;
    len = 777;
    CHECK(camb_audio_url_list_get(NULL, 0, &run_id, &len) == NULL && run_id == 99 && len == 0,
          "camb_audio_url_list_get(NULL, 0): a URL, or run id %" PRId64 ", length %zu", run_id,
          len);
    CHECK(camb_audio_url_list_get(NULL, 0, NULL, NULL) == NULL,
          "camb_audio_url_list_get(NULL, 0, NULL, NULL)");

    const char *after = camb_last_error();
    CHECK(strcmp(after, before) == 0,
          "_free(NULL) or an accessor changed camb_last_error(): \"%s\", was \"%s\"", after,
          before);
}

/*
 * camb_create_options_init() and camb_wait_options_init(), which the header's
 * _default() call with the header's sizeof (and an FFI with its own): the
 * defaults for the fields within struct_size and nothing written past it; a size
 * larger than the library's struct, or too small to hold struct_size, refused
 * without a write.
 */
static void options_init(void) {
    /* The full size: the defaults. */
    camb_create_options create;
    memset(&create, 0x5A, sizeof create);
    if (expect(camb_create_options_init(&create, sizeof create), CAMB_RESULT_OK,
               "create_options_init(sizeof)")) {
        CHECK(create.struct_size == sizeof create && create.duration_s == 0.0 &&
                  create.audio_type == CAMB_AUDIO_TYPE_DEFAULT && create.project_name == NULL &&
                  create.project_description == NULL && !create.has_folder_id &&
                  create.folder_id == 0 && !create.retry,
              "create_options_init(sizeof): not the defaults");
    }
    camb_wait_options wait;
    memset(&wait, 0x5A, sizeof wait);
    if (expect(camb_wait_options_init(&wait, sizeof wait), CAMB_RESULT_OK,
               "wait_options_init(sizeof)")) {
        CHECK(wait.struct_size == sizeof wait && wait.initial_interval_ms == 2000 &&
                  wait.backoff_factor == 1.5 && wait.max_interval_ms == 15000 &&
                  wait.deadline_ms == 600000,
              "wait_options_init(sizeof): not the defaults (%" PRIu64 ", %g, %" PRIu64
              ", %" PRIu64 ")",
              wait.initial_interval_ms, wait.backoff_factor, wait.max_interval_ms,
              wait.deadline_ms);
    }

    /* An older program's smaller struct: only the fields it has are written. */
    _Alignas(camb_create_options) unsigned char older_create[sizeof(camb_create_options)];
    memset(older_create, 0x5A, sizeof older_create);
    size_t older_size = offsetof(camb_create_options, audio_type);
    if (expect(camb_create_options_init((camb_create_options *)(void *)older_create, older_size),
               CAMB_RESULT_OK, "create_options_init(struct_size ending before audio_type)")) {
        size_t got_size = 0;
        double got_duration = -1.0;
        memcpy(&got_size, older_create, sizeof got_size);
        memcpy(&got_duration, older_create + offsetof(camb_create_options, duration_s),
               sizeof got_duration);
        bool untouched = true;
        for (size_t i = older_size; i < sizeof older_create; i++) {
            untouched = untouched && older_create[i] == 0x5A;
        }
        CHECK(got_size == older_size && got_duration == 0.0 && untouched,
              "create_options_init(older size): struct_size %zu, duration %g, %s", got_size,
              got_duration, untouched ? "nothing past it written" : "WROTE PAST IT");
    }
    _Alignas(camb_wait_options) unsigned char older_wait[sizeof(camb_wait_options)];
    memset(older_wait, 0x5A, sizeof older_wait);
    older_size = offsetof(camb_wait_options, deadline_ms);
    if (expect(camb_wait_options_init((camb_wait_options *)(void *)older_wait, older_size),
               CAMB_RESULT_OK, "wait_options_init(struct_size ending before deadline_ms)")) {
        camb_wait_options got;
        memcpy(&got, older_wait, older_size);
        bool untouched = true;
        for (size_t i = older_size; i < sizeof older_wait; i++) {
            untouched = untouched && older_wait[i] == 0x5A;
        }
        CHECK(got.struct_size == older_size && got.initial_interval_ms == 2000 &&
                  got.backoff_factor == 1.5 && got.max_interval_ms == 15000 && untouched,
              "wait_options_init(older size): wrong fields, or %s",
              untouched ? "nothing past it written" : "WROTE PAST IT");
    }

    /* Refused, writing nothing: larger than the library's struct (a newer camb.h),
     * smaller than struct_size itself, NULL. */
    struct {
        camb_create_options options;
        unsigned char newer_fields[16];
    } newer_create;
    memset(&newer_create, 0x5A, sizeof newer_create);
    struct {
        camb_wait_options options;
        unsigned char newer_fields[16];
    } newer_wait;
    memset(&newer_wait, 0x5A, sizeof newer_wait);
    memcpy(older_create, &create, sizeof create);
    expect(camb_create_options_init(&newer_create.options, sizeof newer_create),
           CAMB_RESULT_INVALID_PARAMETER, "create_options_init(larger than the struct)");
    expect(camb_create_options_init(&create, sizeof(size_t) - 1), CAMB_RESULT_INVALID_PARAMETER,
           "create_options_init(smaller than a size_t)");
    expect(camb_create_options_init(NULL, sizeof create), CAMB_RESULT_NULL_PARAMETER,
           "create_options_init(NULL)");
    expect(camb_wait_options_init(&newer_wait.options, sizeof newer_wait),
           CAMB_RESULT_INVALID_PARAMETER, "wait_options_init(larger than the struct)");
    expect(camb_wait_options_init(&wait, 0), CAMB_RESULT_INVALID_PARAMETER,
           "wait_options_init(size 0)");
    expect(camb_wait_options_init(NULL, sizeof wait), CAMB_RESULT_NULL_PARAMETER,
           "wait_options_init(NULL)");
    bool create_untouched = memcmp(older_create, &create, sizeof create) == 0;
    bool newer_untouched = true;
    for (size_t i = 0; i < sizeof newer_create; i++) {
        newer_untouched = newer_untouched && ((unsigned char *)&newer_create)[i] == 0x5A;
    }
    for (size_t i = 0; i < sizeof newer_wait; i++) {
        newer_untouched = newer_untouched && ((unsigned char *)&newer_wait)[i] == 0x5A;
    }
    CHECK(create_untouched && newer_untouched && wait.struct_size == sizeof wait,
          "a refused _options_init wrote to the options");
}

/* Every function with bad input; nothing here reaches the network but the max-length id. */
static void bad_inputs(const camb_client *client) {
    /* Builders. */
    expect(camb_client_builder_set_api_key(NULL, g_api_key), CAMB_RESULT_NULL_PARAMETER,
           "set_api_key(NULL builder)");
    expect(camb_client_builder_set_base_url(NULL, g_base_url), CAMB_RESULT_NULL_PARAMETER,
           "set_base_url(NULL builder)");
    expect(camb_client_builder_set_timeout_ms(NULL, 1000), CAMB_RESULT_NULL_PARAMETER,
           "set_timeout_ms(NULL builder)");
    expect(camb_client_builder_set_max_retries(NULL, 1), CAMB_RESULT_NULL_PARAMETER,
           "set_max_retries(NULL builder)");
    expect(camb_client_builder_set_allow_insecure_http(NULL, true), CAMB_RESULT_NULL_PARAMETER,
           "set_allow_insecure_http(NULL builder)");
    expect(camb_client_builder_set_ca_bundle_file(NULL, "/nonexistent/camb-stress.pem"),
           CAMB_RESULT_NULL_PARAMETER, "set_ca_bundle_file(NULL builder)");
    expect(camb_client_builder_set_ca_bundle_pem(NULL, (const uint8_t *)"x", 1),
           CAMB_RESULT_NULL_PARAMETER, "set_ca_bundle_pem(NULL builder)");
    expect(camb_client_builder_set_proxy(NULL, "http://127.0.0.1:3128"),
           CAMB_RESULT_NULL_PARAMETER, "set_proxy(NULL builder)");
    camb_client *out = NULL;
    expect(camb_client_builder_build(NULL, &out), CAMB_RESULT_NULL_PARAMETER, "build(NULL)");
    CHECK(out == NULL, "build(NULL) wrote its out-parameter");
    camb_client_builder_free(NULL);
    builder_refusals();

    /* camb_client_new */
    expect(camb_client_new(g_api_key, NULL), CAMB_RESULT_NULL_PARAMETER, "client_new(key, NULL)");
    expect(camb_client_new("\xff", &out), CAMB_RESULT_INVALID_PARAMETER,
           "client_new(invalid UTF-8)");
    expect(camb_client_new("", &out), CAMB_RESULT_INVALID_PARAMETER, "client_new(empty key)");
    expect(camb_client_new("tab\tkey", &out), CAMB_RESULT_INVALID_PARAMETER,
           "client_new(control character)");
    CHECK(out == NULL, "a failed camb_client_new wrote its out-parameter");
    camb_client_free(NULL);

    null_objects();

    /* Status calls. */
    camb_task *task = SENTINEL_TASK;
    expect(camb_client_get_task_status(NULL, "demo-success", NULL, &task),
           CAMB_RESULT_NULL_PARAMETER, "get_task_status(NULL client)");
    expect(camb_client_get_task_status(client, NULL, NULL, &task), CAMB_RESULT_NULL_PARAMETER,
           "get_task_status(NULL id)");
    expect(camb_client_get_task_status(client, "demo-success", NULL, NULL),
           CAMB_RESULT_NULL_PARAMETER, "get_task_status(NULL out)");
    expect(camb_client_get_task_status(client, "demo-\xff", NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "get_task_status(invalid UTF-8)");
    expect(camb_client_get_task_status(client, "\xc3", NULL, &task), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(truncated UTF-8)");
    expect(camb_client_get_task_status(client, "", NULL, &task), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(empty id)");
    expect(camb_client_get_task_status(client, ".", NULL, &task), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(.)");
    expect(camb_client_get_task_status(client, "..", NULL, &task), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(..)");
    expect(camb_client_get_task_status(client, g_long_id, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "get_task_status(1025-byte id)");
    /* Long valid ids reach the server: the emulator (like FastAPI) refuses ids over
     * 256 characters with a 422, and knows no task with a 256-character one. */
    expect_http(camb_client_get_task_status(client, g_max_id, NULL, &task),
                CAMB_RESULT_VALIDATION, 422, "get_task_status(1024-byte id)");
    const char *id_256 = g_max_id + (sizeof g_max_id - 257);
    expect_http(camb_client_get_task_status(client, id_256, NULL, &task), CAMB_RESULT_NOT_FOUND,
                404, "get_task_status(256-byte id)");
    CHECK(task == SENTINEL_TASK, "a failed get_task_status wrote its out-parameter");

    /* Batches: refused as a whole only for the call's own arguments. */
    const char *two_ids[2] = {"demo-success", "demo-error"};
    static const char *too_many_ids[100001]; /* NULLs: never read, the count is refused first */
    camb_task_list *list = SENTINEL_TASK_LIST;
    expect(camb_client_get_task_statuses(NULL, two_ids, 2, 0, NULL, &list),
           CAMB_RESULT_NULL_PARAMETER, "get_task_statuses(NULL client)");
    expect(camb_client_get_task_statuses(client, two_ids, 2, 0, NULL, NULL),
           CAMB_RESULT_NULL_PARAMETER, "get_task_statuses(NULL out)");
    expect(camb_client_get_task_statuses(client, NULL, 2, 0, NULL, &list),
           CAMB_RESULT_NULL_PARAMETER, "get_task_statuses(NULL ids, count 2)");
    expect(camb_client_get_task_statuses(client, two_ids, 2, 33, NULL, &list),
           CAMB_RESULT_INVALID_PARAMETER, "get_task_statuses(33 connections)");
    expect(camb_client_get_task_statuses(client, too_many_ids, 100001, 0, NULL, &list),
           CAMB_RESULT_INVALID_PARAMETER, "get_task_statuses(100001 ids)");
    CHECK(list == SENTINEL_TASK_LIST, "a refused get_task_statuses wrote its out-parameter");
    /* count 0: an empty list (ids may be NULL), freed like any other. */
    list = NULL;
    if (expect(camb_client_get_task_statuses(client, NULL, 0, 0, NULL, &list), CAMB_RESULT_OK,
               "get_task_statuses(count 0)")) {
        CHECK(list != NULL && camb_task_list_len(list) == 0 && camb_task_list_get(list, 0) == NULL,
              "get_task_statuses(count 0) is not an empty list");
        camb_task_list_free(list);
    }

    /* Names and versions of any value. */
    CHECK(strcmp(camb_result_name(CAMB_RESULT_NOT_FOUND), "CAMB_RESULT_NOT_FOUND") == 0,
          "camb_result_name(404)");
    CHECK(strcmp(camb_result_name(123456u), "CAMB_RESULT_UNKNOWN_VALUE") == 0,
          "camb_result_name(unknown)");
    CHECK(strcmp(camb_result_name(UINT32_MAX), "CAMB_RESULT_UNKNOWN_VALUE") == 0,
          "camb_result_name(UINT32_MAX)");
    CHECK(strcmp(camb_status_name(CAMB_STATUS_ERROR), "CAMB_STATUS_ERROR") == 0,
          "camb_status_name(ERROR)");
    CHECK(strcmp(camb_status_name(999u), "CAMB_STATUS_UNKNOWN_VALUE") == 0,
          "camb_status_name(unknown)");
    CHECK(camb_status_is_final(999u) && camb_status_is_final(CAMB_STATUS_UNKNOWN) &&
              !camb_status_is_final(CAMB_STATUS_PENDING),
          "camb_status_is_final");
    CHECK(strcmp(camb_version(), CAMB_VERSION_STRING) == 0, "camb_version() is %s, header %s",
          camb_version(), CAMB_VERSION_STRING);

    /* Cancel tokens. */
    expect(camb_cancel_token_cancel(NULL), CAMB_RESULT_NULL_PARAMETER, "cancel_token_cancel(NULL)");
    expect(camb_cancel_token_reset(NULL), CAMB_RESULT_NULL_PARAMETER, "cancel_token_reset(NULL)");
    CHECK(!camb_cancel_token_is_cancelled(NULL), "cancel_token_is_cancelled(NULL)");
    camb_cancel_token_free(NULL);
    camb_cancel_token *token = camb_cancel_token_new();
    CHECK(token != NULL, "camb_cancel_token_new returned NULL");
    if (token != NULL) {
        CHECK(!camb_cancel_token_is_cancelled(token), "a new token is cancelled");
        expect(camb_cancel_token_cancel(token), CAMB_RESULT_OK, "cancel_token_cancel");
        CHECK(camb_cancel_token_is_cancelled(token), "a cancelled token is not cancelled");
        expect(camb_cancel_token_reset(token), CAMB_RESULT_OK, "cancel_token_reset");
        CHECK(!camb_cancel_token_is_cancelled(token), "a reset token is cancelled");
        camb_cancel_token_free(token);
    }

    options_init();

    /* Create: refused before anything is sent. */
    char *task_id = SENTINEL_STRING;
    size_t id_len = 777;
    camb_create_options options = camb_create_options_default();
    CHECK(options.struct_size == sizeof options,
          "camb_create_options_default().struct_size is %zu, sizeof is %zu", options.struct_size,
          sizeof options);
    expect(camb_client_create_task(NULL, "rain", NULL, NULL, &task_id, &id_len),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL client)");
    expect(camb_client_create_task(client, NULL, NULL, NULL, &task_id, &id_len),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL prompt)");
    expect(camb_client_create_task(client, "rain", NULL, NULL, NULL, &id_len),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL out)");
    expect(camb_client_create_task(client, "", NULL, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(empty prompt)");
    expect(camb_client_create_task(client, "r\xff", NULL, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(invalid UTF-8)");
    options.audio_type = 99;
    expect(camb_client_create_task(client, "rain", &options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(audio_type 99)");
    options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 11.0;
    expect(camb_client_create_task(client, "rain", &options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(11 s of sound)");
    options.duration_s = -1.0;
    expect(camb_client_create_task(client, "rain", &options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(negative duration)");
    options = camb_create_options_default();
    options.project_name = "\xff";
    expect(camb_client_create_task(client, "rain", &options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(project_name invalid UTF-8)");
    /* Options from a newer camb.h (a struct_size larger than this library's
     * struct: fields it cannot know), and options not from _default() (size 0). */
    struct {
        camb_create_options options;
        unsigned char newer_fields[16];
    } newer_create;
    memset(&newer_create, 0, sizeof newer_create);
    newer_create.options = camb_create_options_default();
    newer_create.options.struct_size = sizeof newer_create;
    expect(camb_client_create_task(client, "rain", &newer_create.options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(struct_size larger than the struct)");
    expect_error_mentions("struct_size", "create_task(struct_size larger than the struct)");
    options = camb_create_options_default();
    options.struct_size = 0;
    expect(camb_client_create_task(client, "rain", &options, NULL, &task_id, &id_len),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(struct_size 0)");
    CHECK(task_id == SENTINEL_STRING && id_len == 777,
          "a refused create_task wrote its out-parameters");

    /* Wait: bad arguments and options. */
    camb_wait_options wait = camb_wait_options_default();
    CHECK(wait.struct_size == sizeof wait,
          "camb_wait_options_default().struct_size is %zu, sizeof is %zu", wait.struct_size,
          sizeof wait);
    expect(camb_client_wait_for_task(NULL, "demo-success", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL client)");
    expect(camb_client_wait_for_task(client, NULL, &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL id)");
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, NULL),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL out)");
    expect(camb_client_wait_for_task(client, "..", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(..)");
    wait.initial_interval_ms = 0;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(initial interval 0)");
    wait = camb_wait_options_default();
    wait.backoff_factor = 0.5;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(backoff 0.5)");
    wait = camb_wait_options_default();
    wait.deadline_ms = 0;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(deadline 0)");
    struct {
        camb_wait_options options;
        unsigned char newer_fields[16];
    } newer_wait;
    memset(&newer_wait, 0, sizeof newer_wait);
    newer_wait.options = camb_wait_options_default();
    newer_wait.options.struct_size = sizeof newer_wait;
    expect(camb_client_wait_for_task(client, "demo-success", &newer_wait.options, NULL, NULL, NULL,
                                     &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(struct_size larger than the struct)");
    expect_error_mentions("struct_size", "wait_for_task(struct_size larger than the struct)");
    wait = camb_wait_options_default();
    wait.struct_size = 0;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &task),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(struct_size 0)");
    CHECK(task == SENTINEL_TASK, "a refused wait_for_task wrote its out-parameter");

    /* Audio: bad arguments. */
    uint64_t bytes = 777;
    expect(camb_client_download_audio(NULL, 4242, NULL, NULL, NULL, &bytes),
           CAMB_RESULT_NULL_PARAMETER, "download_audio(NULL client)");
    expect(camb_client_download_audio(client, 4242, NULL, NULL, NULL, &bytes),
           CAMB_RESULT_NULL_PARAMETER, "download_audio(NULL write)");
    expect(camb_client_save_audio(client, 4242, NULL, NULL, &bytes), CAMB_RESULT_NULL_PARAMETER,
           "save_audio(NULL path)");
    expect(camb_client_save_audio(client, 4242, "", NULL, &bytes), CAMB_RESULT_INVALID_PARAMETER,
           "save_audio(empty path)");
    CHECK(bytes == 777, "a refused download wrote its out-parameter");
    char *url = SENTINEL_STRING;
    size_t url_len = 777;
    expect(camb_client_get_audio_url(NULL, 4242, NULL, &url, &url_len), CAMB_RESULT_NULL_PARAMETER,
           "get_audio_url(NULL client)");
    expect(camb_client_get_audio_url(client, 4242, NULL, NULL, &url_len),
           CAMB_RESULT_NULL_PARAMETER, "get_audio_url(NULL out)");
    CHECK(url == SENTINEL_STRING && url_len == 777,
          "a refused get_audio_url wrote its out-parameters");
    static int64_t many_ids[1001];
    camb_audio_url_list *urls = SENTINEL_URL_LIST;
    expect(camb_client_get_audio_urls(NULL, many_ids, 1, NULL, &urls), CAMB_RESULT_NULL_PARAMETER,
           "get_audio_urls(NULL client)");
    expect(camb_client_get_audio_urls(client, NULL, 1, NULL, &urls), CAMB_RESULT_NULL_PARAMETER,
           "get_audio_urls(NULL ids)");
    expect(camb_client_get_audio_urls(client, many_ids, 1, NULL, NULL), CAMB_RESULT_NULL_PARAMETER,
           "get_audio_urls(NULL out)");
    expect(camb_client_get_audio_urls(client, many_ids, 1001, NULL, &urls),
           CAMB_RESULT_INVALID_PARAMETER, "get_audio_urls(count 1001)");
    CHECK(urls == SENTINEL_URL_LIST, "a refused get_audio_urls wrote its out-parameter");
    /* count 0: an empty list and no request (ids may be NULL), freed like any other. */
    urls = NULL;
    if (expect(camb_client_get_audio_urls(client, NULL, 0, NULL, &urls), CAMB_RESULT_OK,
               "get_audio_urls(count 0)")) {
        int64_t run_id = 99;
        size_t len = 777;
        CHECK(urls != NULL && camb_audio_url_list_len(urls) == 0 &&
                  camb_audio_url_list_get(urls, 0, &run_id, &len) == NULL && run_id == 99 &&
                  len == 0,
              "get_audio_urls(count 0) is not an empty list");
        camb_audio_url_list_free(urls);
    }

    /* Generate: everything refused before a task is created (and billed). */
    camb_wait_options wait_ok = camb_wait_options_default();
    const char *gen_path = "/tmp/camb-stress-never-written.wav";
    task = SENTINEL_TASK;
    bytes = 777;
    expect(camb_client_generate(NULL, "rain", NULL, NULL, gen_path, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_NULL_PARAMETER, "generate(NULL client)");
    expect(camb_client_generate(client, NULL, NULL, NULL, gen_path, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_NULL_PARAMETER, "generate(NULL prompt)");
    expect(camb_client_generate(client, "rain", NULL, NULL, NULL, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_NULL_PARAMETER, "generate(NULL path)");
    expect(camb_client_generate(client, "", NULL, NULL, gen_path, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(empty prompt)");
    expect(camb_client_generate(client, "r\xff", NULL, NULL, gen_path, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(invalid UTF-8)");
    expect(camb_client_generate(client, "rain", NULL, NULL, "", NULL, NULL, NULL, &task, &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(empty path)");
    options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 11.0;
    expect(camb_client_generate(client, "rain", &options, &wait_ok, gen_path, NULL, NULL, NULL,
                                &task, &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(11 s of sound)");
    options.struct_size = 0;
    options.duration_s = 1.0;
    expect(camb_client_generate(client, "rain", &options, &wait_ok, gen_path, NULL, NULL, NULL,
                                &task, &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(create options' struct_size 0)");
    wait_ok.deadline_ms = 0;
    expect(camb_client_generate(client, "rain", NULL, &wait_ok, gen_path, NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_INVALID_PARAMETER, "generate(deadline 0)");
    expect(camb_client_generate(client, "rain", NULL, NULL, "/nonexistent-camb-stress/x.wav", NULL,
                                NULL, NULL, &task, &bytes),
           CAMB_RESULT_IO, "generate(a missing directory)");
    expect_error_mentions("does not exist", "generate(a missing directory)");
    expect(camb_client_generate(client, "rain", NULL, NULL, "/tmp", NULL, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_IO, "generate(a directory)");
    CHECK(task == SENTINEL_TASK && bytes == 777, "a refused generate wrote its out-parameters");
    struct stat st;
    CHECK(stat(gen_path, &st) != 0, "a refused generate wrote %s", gen_path);

    /* A cancelled token: each blocking network call stops before sending anything. */
    camb_cancel_token *cancelled = camb_cancel_token_new();
    expect(camb_cancel_token_cancel(cancelled), CAMB_RESULT_OK, "cancel_token_cancel");
    task = SENTINEL_TASK;
    expect(camb_client_get_task_status(client, "demo-success", cancelled, &task),
           CAMB_RESULT_CANCELLED, "get_task_status(cancelled token)");
    task_id = SENTINEL_STRING;
    expect(camb_client_create_task(client, "rain", NULL, cancelled, &task_id, NULL),
           CAMB_RESULT_CANCELLED, "create_task(cancelled token)");
    url = SENTINEL_STRING;
    expect(camb_client_get_audio_url(client, 4242, cancelled, &url, NULL), CAMB_RESULT_CANCELLED,
           "get_audio_url(cancelled token)");
    urls = SENTINEL_URL_LIST;
    int64_t one_run[1] = {4242};
    expect(camb_client_get_audio_urls(client, one_run, 1, cancelled, &urls), CAMB_RESULT_CANCELLED,
           "get_audio_urls(cancelled token)");
    list = SENTINEL_TASK_LIST;
    expect(camb_client_get_task_statuses(client, two_ids, 2, 0, cancelled, &list),
           CAMB_RESULT_CANCELLED, "get_task_statuses(cancelled token)");
    bytes = 777;
    expect(camb_client_save_audio(client, 4242, gen_path, cancelled, &bytes),
           CAMB_RESULT_CANCELLED, "save_audio(cancelled token)");
    expect(camb_client_generate(client, "rain", NULL, NULL, gen_path, cancelled, NULL, NULL,
                                &task, &bytes),
           CAMB_RESULT_CANCELLED, "generate(cancelled token)");
    CHECK(task == SENTINEL_TASK && task_id == SENTINEL_STRING && url == SENTINEL_STRING &&
              urls == SENTINEL_URL_LIST && list == SENTINEL_TASK_LIST && bytes == 777,
          "a cancelled call wrote its out-parameters");
    CHECK(stat(gen_path, &st) != 0, "a cancelled call wrote %s", gen_path);
    camb_cancel_token_free(cancelled);
}

/* CAMB_API_KEY unset, then unusable. Single-threaded: no other thread reads the environment. */
static void environment_key(void) {
    camb_client *client = NULL;
    unsetenv("CAMB_API_KEY");
    expect(camb_client_new(NULL, &client), CAMB_RESULT_MISSING_API_KEY,
           "client_new(NULL) without CAMB_API_KEY");
    camb_client_builder *builder = camb_client_builder_new();
    if (builder != NULL) {
        expect(camb_client_builder_build(builder, &client), CAMB_RESULT_MISSING_API_KEY,
               "build without a key or CAMB_API_KEY");
    }
    setenv("CAMB_API_KEY", "", 1);
    expect(camb_client_new(NULL, &client), CAMB_RESULT_MISSING_API_KEY,
           "client_new(NULL) with CAMB_API_KEY empty");
    setenv("CAMB_API_KEY", " padded-key ", 1); /* leading and trailing whitespace */
    expect(camb_client_new(NULL, &client), CAMB_RESULT_INVALID_PARAMETER,
           "client_new(NULL) with an unusable CAMB_API_KEY");
    builder = camb_client_builder_new();
    if (builder != NULL) {
        expect(camb_client_builder_build(builder, &client), CAMB_RESULT_INVALID_PARAMETER,
               "build with an unusable CAMB_API_KEY");
    }
    CHECK(client == NULL, "a failed creation wrote its out-parameter");
    setenv("CAMB_API_KEY", g_api_key, 1);
}

static void phase1(int iterations) {
    environment_key();
    for (int i = 0; i < iterations; i++) {
        /* A client from the builder, one status call (its task read and freed), free. */
        camb_client *client = emulator_client();
        if (client != NULL) {
            char missing[64];
            snprintf(missing, sizeof missing, "stress-missing-p1-%d", i);
            camb_task *task = NULL;
            checked_status_call(client, (enum task_kind)(i % KIND_COUNT), missing, &task);
            camb_task_free(task);
            bad_inputs(client);
            camb_client_free(client);
        }

        /* camb_client_new, with a key and from CAMB_API_KEY: created and freed. */
        camb_client *plain = NULL;
        expect(camb_client_new(g_api_key, &plain), CAMB_RESULT_OK, "client_new(key)");
        CHECK(plain != NULL, "client_new wrote NULL");
        camb_client_free(plain);
        plain = NULL;
        expect(camb_client_new(NULL, &plain), CAMB_RESULT_OK, "client_new(NULL: CAMB_API_KEY)");
        CHECK(plain != NULL, "client_new wrote NULL");
        camb_client_free(plain);

        /* A builder with settings, freed without a build (memcheck sees what it held). */
        camb_client_builder *builder = camb_client_builder_new();
        CHECK(builder != NULL, "camb_client_builder_new returned NULL");
        if (builder != NULL) {
            expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
                   "set_api_key");
            expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK,
                   "set_base_url");
            expect(camb_client_builder_add_header(builder, "traceparent", "00-stress-01", false),
                   CAMB_RESULT_OK, "add_header");
            camb_client_builder_free(builder);
        }
    }
}

/* ---------------------------------------------------------------- workflow */

struct progress_log {
    unsigned polls;
    bool done_seen;
    bool stop;
};

static bool on_progress(const camb_wait_progress *progress, void *user_data) {
    struct progress_log *log = user_data;
    log->polls++;
    CHECK(progress->polls == log->polls, "progress: polls %" PRIu32 " after %u callbacks",
          progress->polls, log->polls);
    if (progress->poll_result == CAMB_RESULT_OK) {
        CHECK(progress->status_text != NULL &&
                  strlen(progress->status_text) == progress->status_text_len,
              "progress: status_text");
        CHECK(progress->error_message == NULL && progress->http_status == 0,
              "progress: a successful poll with an error (HTTP %u)",
              (unsigned)progress->http_status);
    }
    if (progress->done) {
        log->done_seen = true;
    }
    return !log->stop;
}

struct sink {
    uint64_t total;
    unsigned char head[4];
    uint64_t stop_after; /* 0: never */
};

static bool on_chunk(const uint8_t *data, size_t len, void *user_data) {
    struct sink *sink = user_data;
    for (size_t i = 0; i < len && sink->total + i < sizeof sink->head; i++) {
        sink->head[sink->total + i] = data[i];
    }
    sink->total += len;
    return sink->stop_after == 0 || sink->total < sink->stop_after;
}

static camb_wait_options quick_wait(uint64_t deadline_ms) {
    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 10;
    wait.backoff_factor = 1.0;
    wait.max_interval_ms = 10;
    wait.deadline_ms = deadline_ms;
    return wait;
}

/* True when `url` is the emulator's (pre-signed) URL of run `run_id`'s audio:
 * BASE_URL/_emulator/files/RUN_ID.wav, then its query. */
static bool is_audio_url(const char *url, size_t len, int64_t run_id) {
    size_t base_len = strlen(g_base_url);
    while (base_len > 0 && g_base_url[base_len - 1] == '/') {
        base_len--; /* libcamb ignores trailing slashes */
    }
    char want[600];
    int n = snprintf(want, sizeof want, "%.*s/_emulator/files/%" PRId64 ".wav", (int)base_len,
                     g_base_url, run_id);
    return url != NULL && strlen(url) == len && n > 0 && (size_t)n < sizeof want &&
           strncmp(url, want, (size_t)n) == 0 && (url[n] == '\0' || url[n] == '?');
}

/*
 * Options with a smaller struct_size, as a program built with an older camb.h
 * sends them: the fields within the size are read, the ones past it are not (they
 * take their defaults). Each field past the size holds a value that would be
 * refused if it were read.
 */
static void older_options(const camb_client *client, int round) {
    camb_create_options older = camb_create_options_default();
    older.struct_size = offsetof(camb_create_options, audio_type); /* size and duration_s */
    older.duration_s = 1.0;
    older.audio_type = 99; /* refused if read */
    char prompt[80];
    snprintf(prompt, sizeof prompt, "stress round %d: older options [pending_ms:0]", round);
    char *task_id = NULL;
    if (!expect(camb_client_create_task(client, prompt, &older, NULL, &task_id, NULL),
                CAMB_RESULT_OK, "create_task(struct_size ending before audio_type)")) {
        return;
    }
    camb_wait_options older_wait = quick_wait(TIMEOUT_MS);
    older_wait.struct_size = offsetof(camb_wait_options, deadline_ms);
    older_wait.deadline_ms = 0; /* refused if read */
    camb_task *task = NULL;
    if (expect(camb_client_wait_for_task(client, task_id, &older_wait, NULL, NULL, NULL, &task),
               CAMB_RESULT_OK, "wait_for_task(struct_size ending before deadline_ms)")) {
        int64_t run_id = 0;
        CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS && camb_task_run_id(task, &run_id),
              "older options: the task is %s", camb_status_name(camb_task_status(task)));
        /* duration_s was read: one second of mono 16-bit 22.05 kHz audio. */
        struct sink sink = {0, {0}, 0};
        if (expect(camb_client_download_audio(client, run_id, NULL, on_chunk, &sink, NULL),
                   CAMB_RESULT_OK, "download_audio(older options' run)")) {
            CHECK(sink.total == 44 + 22050 * 2,
                  "older options: %" PRIu64 " bytes of audio, want 1 s (44144 bytes)", sink.total);
        }
    }
    camb_task_free(task);
    camb_string_free(task_id);

    /* Only the size: every option takes its default (the wait ends at the first
     * poll, demo-success being final; an initial interval of 0 would be refused). */
    camb_wait_options only_size = camb_wait_options_default();
    only_size.struct_size = sizeof(size_t);
    only_size.initial_interval_ms = 0;
    task = NULL;
    if (expect(camb_client_wait_for_task(client, "demo-success", &only_size, NULL, NULL, NULL,
                                         &task),
               CAMB_RESULT_OK, "wait_for_task(struct_size of the size field only)")) {
        check_task(task, "demo-success", &WANT_SUCCESS, NULL,
                   "wait_for_task(struct_size of the size field only)");
    }
    camb_task_free(task);
}

/* ------------------------------------------------- batches and lifetimes */

enum { BATCH_SIZE = 8 };

struct batch_want {
    const char *ids[BATCH_SIZE];
    const char *missing;       /* ids[3] */
    char missing_error[512];   /* what a single call for it put in camb_last_error() */
};

/* Checks every task of a list made from `want->ids`. */
static void check_batch(const camb_task_list *list, const struct batch_want *want,
                        const char *what) {
    CHECK(camb_task_list_len(list) == BATCH_SIZE, "%s: %zu tasks, want %d", what,
          camb_task_list_len(list), BATCH_SIZE);
    char entry[200];
    for (size_t i = 0; i < BATCH_SIZE; i++) {
        snprintf(entry, sizeof entry, "%s: task %zu (%s)", what, i, shown(want->ids[i]));
        const camb_task *task = camb_task_list_get(list, i);
        switch (i) {
        case 0:
            check_task(task, want->ids[i], &WANT_SUCCESS, NULL, entry);
            break;
        case 1:
            check_task(task, want->ids[i], &WANT_ERROR, NULL, entry);
            break;
        case 2:
            check_task(task, want->ids[i], &WANT_UNKNOWN, NULL, entry);
            break;
        case 3: {
            check_task(task, want->ids[i], &WANT_NOT_FOUND, want->missing, entry);
            /* "what camb_last_error() said when the query failed" */
            size_t len = 0;
            const char *error = camb_task_error(task, &len);
            CHECK(error != NULL && strcmp(error, want->missing_error) == 0,
                  "%s: camb_task_error is \"%s\", a single call said \"%s\"", entry, shown(error),
                  want->missing_error);
            break;
        }
        case 4: /* NULL: fails alone, its id "" */
            check_task(task, "", &WANT_NULL_ID, NULL, entry);
            break;
        case 5: /* ".." and "": refused, not sent; their ids as given */
        case 6:
            check_task(task, want->ids[i], &WANT_INVALID_ID, NULL, entry);
            break;
        default: /* invalid UTF-8: refused; its id as given, U+FFFD for the bad byte */
            check_task(task, "demo-\xef\xbf\xbd", &WANT_INVALID_ID, NULL, entry);
            break;
        }
    }
    CHECK(camb_task_list_get(list, BATCH_SIZE) == NULL, "%s: a task past the end", what);
    CHECK(camb_task_list_get(list, SIZE_MAX) == NULL, "%s: a task at SIZE_MAX", what);
}

struct list_reader {
    const camb_task_list *list;
    const struct batch_want *want;
    pthread_barrier_t *start;
};

static void *read_list_thread(void *arg) {
    struct list_reader *reader = arg;
    pthread_barrier_wait(reader->start);
    check_batch(reader->list, reader->want, "a list read by 4 threads at once");
    return NULL;
}

/*
 * A batch with every kind of entry. Its tasks are read, then other calls are made
 * (single statuses of every kind, a failure, another batch of the same ids, freed
 * at once), and they are read again: each string must be the same text at the
 * same address. Then 4 threads read the list at once, and it is freed.
 */
static void batch_lifetimes(const camb_client *client, int round) {
    char missing[64];
    snprintf(missing, sizeof missing, "stress-missing-batch-%d", round);
    struct batch_want want = {
        {"demo-success", "demo-error", "demo-unknown", missing, NULL, "..", "", "demo-\xff"},
        missing,
        ""};
    camb_task *none = SENTINEL_TASK;
    expect_http(camb_client_get_task_status(client, missing, NULL, &none),
                CAMB_RESULT_NOT_FOUND, 404, "get_task_status(the batch's missing id)");
    snprintf(want.missing_error, sizeof want.missing_error, "%s", camb_last_error());

    camb_task_list *list = NULL;
    if (!expect(camb_client_get_task_statuses(client, want.ids, BATCH_SIZE, 2, NULL, &list),
                CAMB_RESULT_OK, "get_task_statuses")) {
        return;
    }
    check_batch(list, &want, "get_task_statuses");
    const char *texts[BATCH_SIZE][3];
    for (size_t i = 0; i < BATCH_SIZE; i++) {
        const camb_task *task = camb_task_list_get(list, i);
        texts[i][0] = camb_task_id(task, NULL);
        texts[i][1] = camb_task_status_text(task, NULL);
        texts[i][2] = camb_task_error(task, NULL);
    }

    /* Meanwhile: other calls on this thread, successes and failures. */
    for (int kind = 0; kind < KIND_COUNT; kind++) {
        camb_task *task = NULL;
        checked_status_call(client, (enum task_kind)kind, missing, &task);
        camb_task_free(task);
    }
    camb_task *task = SENTINEL_TASK;
    expect(camb_client_get_task_status(client, "..", NULL, &task), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(..) between two reads of a list");
    camb_task_list *other = NULL;
    if (expect(camb_client_get_task_statuses(client, want.ids, BATCH_SIZE, 0, NULL, &other),
               CAMB_RESULT_OK, "a second get_task_statuses")) {
        check_batch(other, &want, "a second get_task_statuses");
        camb_task_list_free(other);
    }

    check_batch(list, &want, "the first list, read again after other calls");
    for (size_t i = 0; i < BATCH_SIZE; i++) {
        const camb_task *t = camb_task_list_get(list, i);
        CHECK(camb_task_id(t, NULL) == texts[i][0] && camb_task_status_text(t, NULL) == texts[i][1] &&
                  camb_task_error(t, NULL) == texts[i][2],
              "task %zu of a list: a string moved after other calls", i);
    }

    enum { READERS = 4 };
    pthread_t readers[READERS];
    pthread_barrier_t start;
    struct list_reader reader = {list, &want, &start};
    if (pthread_barrier_init(&start, NULL, READERS) == 0) {
        int started = 0;
        for (; started < READERS; started++) {
            if (pthread_create(&readers[started], NULL, read_list_thread, &reader) != 0) {
                break;
            }
        }
        if (started < READERS) {
            fprintf(stderr, "stress: could only start %d of %d reader threads\n", started, READERS);
            exit(2); /* the barrier would never open */
        }
        for (int t = 0; t < READERS; t++) {
            pthread_join(readers[t], NULL);
        }
        pthread_barrier_destroy(&start);
    } else {
        CHECK(false, "cannot make a barrier");
    }
    camb_task_list_free(list);
}

/* A camb_task handed between threads: made on one, read and freed on another. */
struct handoff {
    const camb_client *client;
    camb_task *task;
};

static void *make_task_thread(void *arg) {
    struct handoff *h = arg;
    h->task = NULL;
    expect(camb_client_get_task_status(h->client, "demo-error", NULL, &h->task), CAMB_RESULT_OK,
           "get_task_status(demo-error) on a thread that hands the task over");
    return NULL;
}

static void *read_and_free_task_thread(void *arg) {
    struct handoff *h = arg;
    /* This thread's last error is its own: empty, whatever the maker's thread did. */
    CHECK(camb_last_error()[0] == '\0', "a new thread's camb_last_error() is \"%s\"",
          camb_last_error());
    check_task(h->task, "demo-error", &WANT_ERROR, NULL, "a task made on another thread");
    camb_task_free(h->task);
    h->task = NULL;
    return NULL;
}

static void cross_thread(const camb_client *client) {
    /* Made on a thread, read and freed on this one. */
    struct handoff h = {client, NULL};
    pthread_t thread;
    if (pthread_create(&thread, NULL, make_task_thread, &h) != 0) {
        CHECK(false, "cannot start a thread");
        return;
    }
    pthread_join(thread, NULL);
    check_task(h.task, "demo-error", &WANT_ERROR, NULL, "a task made on a thread that ended");
    camb_task_free(h.task);

    /* Made on this thread (followed by a failure here), read and freed on another. */
    h.task = NULL;
    if (!expect(camb_client_get_task_status(client, "demo-error", NULL, &h.task), CAMB_RESULT_OK,
                "get_task_status(demo-error) to hand over")) {
        return;
    }
    camb_task *none = SENTINEL_TASK;
    expect_http(camb_client_get_task_status(client, "stress-missing-handoff", NULL, &none),
                CAMB_RESULT_NOT_FOUND, 404, "get_task_status(missing) before a handoff");
    if (pthread_create(&thread, NULL, read_and_free_task_thread, &h) != 0) {
        CHECK(false, "cannot start a thread");
        camb_task_free(h.task);
        return;
    }
    pthread_join(thread, NULL);
    CHECK(h.task == NULL, "the reading thread did not free the task");
}

/*
 * camb_client_generate, prompt to file on this thread: with progress and its
 * outputs, without them, a task that fails (no file), and cancelled by a token
 * (before anything is sent) and by the progress callback (while it waits).
 */
static void blocking_generate(const camb_client *client, camb_cancel_token *token, int round) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/camb-stress-%ld-%d-generate.wav", (long)getpid(), round);
    camb_create_options options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 1.0;
    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    char prompt[96];
    snprintf(prompt, sizeof prompt, "stress round %d: generate [pending_ms:30]", round);
    struct progress_log log = {0, false, false};
    camb_task *task = NULL;
    uint64_t bytes = 0;
    struct stat st;
    if (expect(camb_client_generate(client, prompt, &options, &wait, path, token, on_progress,
                                    &log, &task, &bytes),
               CAMB_RESULT_OK, "generate")) {
        int64_t run_id = 0;
        size_t id_len = 0;
        const char *id = camb_task_id(task, &id_len);
        CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS && camb_task_run_id(task, &run_id) &&
                  id_len > 0 && strlen(id) == id_len,
              "generate: the task is %s", camb_status_name(camb_task_status(task)));
        CHECK(log.polls >= 1 && log.done_seen, "generate: %u progress calls, done %d", log.polls,
              (int)log.done_seen);
        CHECK(bytes == 44 + 22050 * 2 && stat(path, &st) == 0 && (uint64_t)st.st_size == bytes,
              "generate: %" PRIu64 " bytes reported, want 1 s (44144 bytes) in %s", bytes, path);
    }
    camb_task_free(task);
    unlink(path);
    /* Without outputs or progress: only the file. */
    if (expect(camb_client_generate(client, prompt, &options, &wait, path, NULL, NULL, NULL, NULL,
                                    NULL),
               CAMB_RESULT_OK, "generate(no outputs)")) {
        CHECK(stat(path, &st) == 0 && st.st_size == 44 + 22050 * 2, "generate(no outputs): %s",
              path);
    }
    unlink(path);

    /* A task that ends in ERROR: TASK_FAILED, saying how, and no file. */
    snprintf(prompt, sizeof prompt, "stress round %d: generate [status:ERROR] [pending_ms:0]",
             round);
    task = SENTINEL_TASK;
    bytes = 777;
    expect(camb_client_generate(client, prompt, NULL, &wait, path, NULL, NULL, NULL, &task, &bytes),
           CAMB_RESULT_TASK_FAILED, "generate([status:ERROR])");
    expect_error_mentions("ERROR", "generate([status:ERROR])");
    expect_error_mentions("PROCESSING_ERROR", "generate([status:ERROR])");
    CHECK(task == SENTINEL_TASK && bytes == 777, "a failed generate wrote its out-parameters");
    CHECK(stat(path, &st) != 0, "a failed generate left %s", path);

    /* Cancelled by the token before anything is sent, then by the callback. */
    snprintf(prompt, sizeof prompt, "stress round %d: generate, never ready [pending_ms:600000]",
             round);
    expect(camb_cancel_token_cancel(token), CAMB_RESULT_OK, "cancel");
    expect(camb_client_generate(client, prompt, NULL, &wait, path, token, NULL, NULL, &task,
                                &bytes),
           CAMB_RESULT_CANCELLED, "generate(cancelled token)");
    expect(camb_cancel_token_reset(token), CAMB_RESULT_OK, "reset");
    log = (struct progress_log){0, false, true};
    expect(camb_client_generate(client, prompt, NULL, &wait, path, token, on_progress, &log,
                                &task, &bytes),
           CAMB_RESULT_CANCELLED, "generate stopped by its callback");
    CHECK(log.polls == 1, "generate stopped by its callback after %u polls", log.polls);
    CHECK(task == SENTINEL_TASK && bytes == 777, "a cancelled generate wrote its out-parameters");
    CHECK(stat(path, &st) != 0, "a cancelled generate left %s", path);
}

static void workflow(int round) {
    camb_client *client = emulator_client();
    if (client == NULL) {
        return;
    }
    camb_cancel_token *token = camb_cancel_token_new();
    CHECK(token != NULL, "camb_cancel_token_new returned NULL");

    /* create, wait (with progress), download, URL, URLs, save */
    camb_create_options options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 1.0;
    options.project_name = "stress";
    char prompt[80];
    snprintf(prompt, sizeof prompt, "stress round %d: rain on a tin roof [pending_ms:30]", round);
    char *task_id = NULL; /* freed at the end, after every other call */
    size_t id_len = 0;
    if (!expect(camb_client_create_task(client, prompt, &options, NULL, &task_id, &id_len),
                CAMB_RESULT_OK, "create_task")) {
        camb_cancel_token_free(token);
        camb_client_free(client);
        return;
    }
    CHECK(task_id != NULL && id_len > 0 && strlen(task_id) == id_len, "create_task: id");
    char *id_copy = strdup(task_id);

    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    struct progress_log log = {0, false, false};
    camb_task *task = NULL; /* freed at the end, after every other call */
    int64_t run_id = 4242;
    if (expect(camb_client_wait_for_task(client, task_id, &wait, token, on_progress, &log, &task),
               CAMB_RESULT_OK, "wait_for_task")) {
        CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS && camb_task_run_id(task, &run_id),
              "wait_for_task: status %s", camb_status_name(camb_task_status(task)));
        CHECK(same_text(camb_task_id(task, NULL), id_len, task_id), "wait_for_task: task id");
        CHECK(log.polls >= 1 && log.done_seen, "wait_for_task: %u progress calls, done %d",
              log.polls, (int)log.done_seen);
    }

    struct sink sink = {0, {0}, 0};
    uint64_t bytes = 0;
    if (expect(camb_client_download_audio(client, run_id, token, on_chunk, &sink, &bytes),
               CAMB_RESULT_OK, "download_audio")) {
        CHECK(bytes == sink.total && bytes > 44 && memcmp(sink.head, "RIFF", 4) == 0,
              "download_audio: %" PRIu64 " bytes reported, %" PRIu64 " received", bytes,
              sink.total);
    }
    struct sink stopper = {0, {0}, 1};
    expect(camb_client_download_audio(client, run_id, NULL, on_chunk, &stopper, NULL),
           CAMB_RESULT_CANCELLED, "download_audio stopped by its callback");
    expect(camb_cancel_token_cancel(token), CAMB_RESULT_OK, "cancel");
    struct sink unused = {0, {0}, 0};
    expect(camb_client_download_audio(client, run_id, token, on_chunk, &unused, NULL),
           CAMB_RESULT_CANCELLED, "download_audio with a cancelled token");
    CHECK(unused.total == 0, "a cancelled download delivered bytes");
    camb_task *untouched = SENTINEL_TASK;
    log = (struct progress_log){0, false, false};
    expect(camb_client_wait_for_task(client, "demo-pending", &wait, token, on_progress, &log,
                                     &untouched),
           CAMB_RESULT_CANCELLED, "wait_for_task with a cancelled token");
    expect(camb_cancel_token_reset(token), CAMB_RESULT_OK, "reset");
    log = (struct progress_log){0, false, true};
    expect(camb_client_wait_for_task(client, "demo-pending", &wait, token, on_progress, &log,
                                     &untouched),
           CAMB_RESULT_CANCELLED, "wait_for_task stopped by its callback");
    camb_wait_options short_wait = quick_wait(100);
    expect(camb_client_wait_for_task(client, "demo-pending", &short_wait, NULL, NULL, NULL,
                                     &untouched),
           CAMB_RESULT_TIMEOUT, "wait_for_task(demo-pending, 100 ms)");
    CHECK(untouched == SENTINEL_TASK, "a failed wait_for_task wrote its out-parameter");

    /* One URL: a new string, freed here; its length optional. */
    char *url = NULL;
    size_t url_len = 0;
    if (expect(camb_client_get_audio_url(client, run_id, NULL, &url, &url_len), CAMB_RESULT_OK,
               "get_audio_url")) {
        CHECK(is_audio_url(url, url_len, run_id), "get_audio_url: \"%s\"", shown(url));
        char *again = NULL;
        if (expect(camb_client_get_audio_url(client, run_id, NULL, &again, NULL), CAMB_RESULT_OK,
                   "get_audio_url(NULL length)")) {
            CHECK(again != NULL && again != url && strcmp(again, url) == 0,
                  "get_audio_url twice: \"%s\", then \"%s\"", shown(url), shown(again));
        }
        camb_string_free(again);
    }

    /* Many URLs (a run id repeated): a list, read, read again after another call, freed. */
    enum { URLS = 4 };
    int64_t ids[URLS] = {run_id, 4242, 987654321, run_id};
    camb_audio_url_list *urls = NULL;
    if (expect(camb_client_get_audio_urls(client, ids, URLS, NULL, &urls), CAMB_RESULT_OK,
               "get_audio_urls")) {
        CHECK(camb_audio_url_list_len(urls) == URLS, "get_audio_urls: %zu entries",
              camb_audio_url_list_len(urls));
        const char *first[URLS];
        for (size_t i = 0; i < URLS; i++) {
            int64_t got = -1;
            size_t len = 777;
            const char *entry = camb_audio_url_list_get(urls, i, &got, &len);
            first[i] = entry;
            CHECK(got == ids[i], "get_audio_urls: entry %zu is run %" PRId64 ", want %" PRId64, i,
                  got, ids[i]);
            if (i != 2) {
                CHECK(is_audio_url(entry, len, ids[i]), "get_audio_urls: entry %zu is \"%s\"", i,
                      shown(entry));
            } else {
                CHECK(entry == NULL && len == 0, "get_audio_urls: unknown run has \"%s\"",
                      shown(entry));
            }
            CHECK(camb_audio_url_list_get(urls, i, NULL, NULL) == entry,
                  "get_audio_urls: entry %zu without out-parameters", i);
        }
        int64_t got = -1;
        size_t len = 777;
        CHECK(camb_audio_url_list_get(urls, URLS, &got, &len) == NULL && got == -1 && len == 0,
              "get_audio_urls: an entry past the end");
        CHECK(first[0] != NULL && first[3] != NULL && strcmp(first[0], first[3]) == 0,
              "get_audio_urls: a repeated run id has \"%s\", its first entry \"%s\"",
              shown(first[3]), shown(first[0]));
        CHECK(url == NULL || (first[0] != NULL && strcmp(first[0], url) == 0),
              "get_audio_urls and get_audio_url differ: \"%s\", \"%s\"", shown(first[0]),
              shown(url));
        /* Another call meanwhile (that fails), then the same strings. */
        char *no_url = SENTINEL_STRING;
        expect_http(camb_client_get_audio_url(client, 987654321, NULL, &no_url, NULL),
                    CAMB_RESULT_NOT_FOUND, 404, "get_audio_url(no such run)");
        CHECK(no_url == SENTINEL_STRING, "a failed get_audio_url wrote its out-parameter");
        for (size_t i = 0; i < URLS; i++) {
            CHECK(camb_audio_url_list_get(urls, i, NULL, &len) == first[i] &&
                      (first[i] == NULL || is_audio_url(first[i], len, ids[i])),
                  "get_audio_urls: entry %zu changed after another call", i);
        }
        camb_audio_url_list_free(urls);
    }
    camb_string_free(url);

    char path[128];
    snprintf(path, sizeof path, "/tmp/camb-stress-%ld-%d.wav", (long)getpid(), round);
    bytes = 0;
    if (expect(camb_client_save_audio(client, run_id, path, NULL, &bytes), CAMB_RESULT_OK,
               "save_audio")) {
        struct stat st;
        CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == bytes && bytes == sink.total,
              "save_audio: %" PRIu64 " bytes", bytes);
    }
    unlink(path);

    /* A task that fails, a run that did not succeed, a run that does not exist. */
    snprintf(prompt, sizeof prompt, "stress round %d [status:ERROR] [pending_ms:0]", round);
    char *error_id = NULL;
    if (expect(camb_client_create_task(client, prompt, NULL, NULL, &error_id, NULL), CAMB_RESULT_OK,
               "create_task([status:ERROR])")) {
        camb_task *failed = NULL;
        if (expect(camb_client_wait_for_task(client, error_id, &wait, NULL, NULL, NULL, &failed),
                   CAMB_RESULT_OK, "wait_for_task([status:ERROR])")) {
            size_t len = 0;
            const char *reason = camb_task_exception_reason(failed, &len);
            CHECK(camb_task_status(failed) == CAMB_STATUS_ERROR &&
                      same_text(reason, len, "PROCESSING_ERROR"),
                  "wait_for_task([status:ERROR]): %s (%s)",
                  camb_status_name(camb_task_status(failed)), shown(reason));
        }
        camb_task_free(failed);
    }
    camb_string_free(error_id);
    expect_http(camb_client_download_audio(client, 4243, NULL, on_chunk, &unused, NULL),
                CAMB_RESULT_HTTP_STATUS, 400, "download_audio(run of demo-error)");
    expect_http(camb_client_download_audio(client, 987654321, NULL, on_chunk, &unused, NULL),
                CAMB_RESULT_NOT_FOUND, 404, "download_audio(no such run)");

    blocking_generate(client, token, round);
    older_options(client, round);
    batch_lifetimes(client, round);
    cross_thread(client);

    /* The first task and its id, after all of that: unchanged, then freed. */
    if (task != NULL) {
        int64_t again = 0;
        CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS && camb_task_run_id(task, &again) &&
                  again == run_id && id_copy != NULL &&
                  same_text(camb_task_id(task, NULL), strlen(id_copy), id_copy),
              "the workflow's task changed during later calls");
    }
    CHECK(id_copy != NULL && strcmp(task_id, id_copy) == 0,
          "the created task id changed during later calls: \"%s\"", task_id);
    free(id_copy);
    camb_task_free(task);
    camb_string_free(task_id);
    camb_cancel_token_free(token);
    camb_client_free(client);
}

/* ---------------------------------------------------------------- jobs */

/*
 * Jobs (camb_client_job_* made, camb_job_submit()ted, delivered through a
 * camb_queue). Every loop is bounded in count and in time (JOB_TIMEOUT_MS).
 */

enum { JOB_TIMEOUT_MS = 60000 };

#define SENTINEL_JOB ((camb_job *)(void *)&g_sentinels[0])
#define SENTINEL_QUEUE ((camb_queue *)(void *)&g_sentinels[1])
#define SENTINEL_EVENT ((camb_event)777)

/* Waits until the job is in `state` (bounded); true when it is. */
static bool job_reaches(const camb_job *job, camb_job_state state, int64_t timeout_ms) {
    int64_t deadline = mono_ms() + timeout_ms;
    while (camb_job_get_state(job) != state && mono_ms() < deadline) {
        sleep_ms(2);
    }
    return camb_job_get_state(job) == state;
}

/* True when the queue's readiness handle is readable now. */
static bool queue_readable(const camb_queue *queue) {
    struct pollfd fd = {(int)camb_queue_fd(queue), POLLIN, 0};
    return poll(&fd, 1, 0) == 1 && (fd.revents & POLLIN) != 0;
}

/* What a finished job of each kind must say. */
enum job_check {
    JOB_STATUS_SUCCESS,
    JOB_STATUS_MISSING,
    JOB_CREATE,
    JOB_WAIT_SUCCESS,
    JOB_DOWNLOAD,
    JOB_DOWNLOAD_MISSING,
    JOB_SAVE,
    JOB_AUDIO_URL,
    JOB_AUDIO_URLS,
    JOB_BATCH,
    JOB_GENERATE,
    JOB_GENERATE_FAILED,
    JOB_CHECK_COUNT
};

static const struct job_spec {
    const char *name;
    camb_job_kind kind;
    camb_result result;
    uint16_t http_status;
} JOB_SPECS[JOB_CHECK_COUNT] = {
    {"status(demo-success)", CAMB_JOB_KIND_GET_TASK_STATUS, CAMB_RESULT_OK, 0},
    {"status(missing)", CAMB_JOB_KIND_GET_TASK_STATUS, CAMB_RESULT_NOT_FOUND, 404},
    {"create", CAMB_JOB_KIND_CREATE_TASK, CAMB_RESULT_OK, 0},
    {"wait(demo-success)", CAMB_JOB_KIND_WAIT_FOR_TASK, CAMB_RESULT_OK, 0},
    {"download(4242)", CAMB_JOB_KIND_DOWNLOAD_AUDIO, CAMB_RESULT_OK, 0},
    {"download(no such run)", CAMB_JOB_KIND_DOWNLOAD_AUDIO, CAMB_RESULT_NOT_FOUND, 404},
    {"save(4242)", CAMB_JOB_KIND_SAVE_AUDIO, CAMB_RESULT_OK, 0},
    {"audio_url(4242)", CAMB_JOB_KIND_GET_AUDIO_URL, CAMB_RESULT_OK, 0},
    {"audio_urls(4242, no such run)", CAMB_JOB_KIND_GET_AUDIO_URLS, CAMB_RESULT_OK, 0},
    {"batch", CAMB_JOB_KIND_GET_TASK_STATUSES, CAMB_RESULT_OK, 0},
    {"generate", CAMB_JOB_KIND_GENERATE, CAMB_RESULT_OK, 0},
    {"generate([status:ERROR])", CAMB_JOB_KIND_GENERATE, CAMB_RESULT_TASK_FAILED, 0},
};

enum { NO_SUCH_RUN = 987654321 };

/* One submitted job: what it must say when it is delivered. Its address is the
 * job's user_data. */
struct job_want {
    enum job_check check;
    camb_job *job;
    atomic_bool delivered;
    char path[128]; /* save and generate jobs: their own file */
};

/* Checks a delivered job through every accessor (on any thread), then removes
 * the file it wrote. */
static void check_finished_job(const camb_job *job, struct job_want *want) {
    const struct job_spec *spec = &JOB_SPECS[want->check];
    const char *what = spec->name;
    CHECK(camb_job_get_state(job) == CAMB_JOB_STATE_DONE, "job %s: delivered in state %u", what,
          (unsigned)camb_job_get_state(job));
    CHECK(camb_job_get_kind(job) == spec->kind, "job %s: kind %u, want %u", what,
          (unsigned)camb_job_get_kind(job), (unsigned)spec->kind);
    CHECK(camb_job_user_data(job) == want, "job %s: user_data is not its record", what);
    camb_result result = camb_job_result(job);
    size_t len = 777;
    const char *error = camb_job_error(job, &len);
    size_t error_len = len;
    CHECK(result == spec->result, "job %s: %s, want %s: %s", what, camb_result_name(result),
          camb_result_name(spec->result), shown(error));
    if (result != spec->result) {
        return;
    }
    CHECK(camb_job_http_status(job) == spec->http_status, "job %s: HTTP %u, want %u", what,
          (unsigned)camb_job_http_status(job), (unsigned)spec->http_status);
    if (result == CAMB_RESULT_OK) {
        CHECK(error == NULL && len == 0, "job %s: succeeded with an error \"%s\"", what,
              shown(error));
    } else {
        CHECK(error != NULL && error_len > 0 && strlen(error) == error_len,
              "job %s: failed without an error text", what);
    }
    CHECK(camb_job_error(job, NULL) == error, "job %s: camb_job_error(NULL len) differs", what);

    /* Every accessor, whether or not it is this kind's: none answers for another kind. */
    const camb_task *task = camb_job_task(job);
    const camb_task_list *list = camb_job_task_list(job);
    const char *id = camb_job_task_id(job, &len);
    size_t id_len = len;
    uint64_t bytes = camb_job_bytes(job);
    size_t audio_len = 777;
    const uint8_t *audio = camb_job_audio(job, &audio_len);
    size_t url_len = 777;
    const char *url = camb_job_audio_url(job, &url_len);
    const camb_audio_url_list *urls = camb_job_audio_url_list(job);
    uint32_t polls = camb_job_polls(job);
    enum job_check c = want->check;
    CHECK((audio != NULL) == (c == JOB_DOWNLOAD) && (audio != NULL || audio_len == 0),
          "job %s: camb_job_audio is %s (%zu bytes)", what, audio != NULL ? "set" : "NULL",
          audio_len);
    CHECK((url != NULL) == (c == JOB_AUDIO_URL) && (url != NULL || url_len == 0),
          "job %s: camb_job_audio_url is \"%s\"", what, shown(url));
    CHECK((urls != NULL) == (c == JOB_AUDIO_URLS), "job %s: camb_job_audio_url_list", what);
    CHECK((list != NULL) == (c == JOB_BATCH), "job %s: camb_job_task_list", what);
    CHECK((bytes != 0) == (c == JOB_DOWNLOAD || c == JOB_SAVE || c == JOB_GENERATE),
          "job %s: %" PRIu64 " bytes", what, bytes);
    CHECK((polls != 0) ==
              (c == JOB_WAIT_SUCCESS || c == JOB_GENERATE || c == JOB_GENERATE_FAILED),
          "job %s: %" PRIu32 " polls", what, polls);
    CHECK((task != NULL) == (c == JOB_STATUS_SUCCESS || c == JOB_WAIT_SUCCESS ||
                             c == JOB_GENERATE || c == JOB_GENERATE_FAILED),
          "job %s: camb_job_task is %s", what, task != NULL ? "set" : "NULL");
    CHECK((id != NULL) == (c != JOB_DOWNLOAD && c != JOB_DOWNLOAD_MISSING && c != JOB_SAVE &&
                           c != JOB_AUDIO_URL && c != JOB_AUDIO_URLS && c != JOB_BATCH),
          "job %s: camb_job_task_id is \"%s\"", what, shown(id));
    CHECK(id == NULL || strlen(id) == id_len, "job %s: task id length", what);

    struct stat st;
    switch (c) {
    case JOB_STATUS_SUCCESS:
        check_task(task, "demo-success", &WANT_SUCCESS, NULL, "job status(demo-success)");
        CHECK(same_text(id, id_len, "demo-success"), "job %s: task id \"%s\"", what, shown(id));
        CHECK(camb_job_task_status(job) == CAMB_STATUS_SUCCESS, "job %s: task status %s", what,
              camb_status_name(camb_job_task_status(job)));
        break;
    case JOB_STATUS_MISSING:
        CHECK(error != NULL && strstr(error, "stress-jobs-missing") != NULL,
              "job %s: error \"%s\"", what, shown(error));
        CHECK(same_text(id, id_len, "stress-jobs-missing"), "job %s: task id \"%s\"", what,
              shown(id));
        CHECK(camb_job_task_status(job) == CAMB_STATUS_UNKNOWN, "job %s: task status", what);
        break;
    case JOB_CREATE:
        CHECK(id != NULL && id_len > 0, "job %s: no task id", what);
        break;
    case JOB_WAIT_SUCCESS:
        check_task(task, "demo-success", &WANT_SUCCESS, NULL, "job wait(demo-success)");
        CHECK(camb_job_task_status(job) == CAMB_STATUS_SUCCESS, "job %s: last status %s", what,
              camb_status_name(camb_job_task_status(job)));
        break;
    case JOB_DOWNLOAD:
        CHECK(audio != NULL && audio_len == bytes && bytes > 44 && memcmp(audio, "RIFF", 4) == 0 &&
                  memcmp(audio + 8, "WAVE", 4) == 0,
              "job %s: %zu bytes of audio, %" PRIu64 " reported", what, audio_len, bytes);
        CHECK(camb_job_audio(job, NULL) == audio, "job %s: camb_job_audio(NULL len)", what);
        break;
    case JOB_DOWNLOAD_MISSING:
        break;
    case JOB_SAVE:
        CHECK(stat(want->path, &st) == 0 && (uint64_t)st.st_size == bytes && bytes > 44,
              "job %s: %s is not the %" PRIu64 " bytes reported", what, want->path, bytes);
        break;
    case JOB_AUDIO_URL:
        CHECK(is_audio_url(url, url_len, 4242), "job %s: \"%s\"", what, shown(url));
        CHECK(camb_job_audio_url(job, NULL) == url, "job %s: camb_job_audio_url(NULL len)", what);
        break;
    case JOB_AUDIO_URLS: {
        int64_t run = -1;
        size_t entry_len = 777;
        const char *entry = camb_audio_url_list_get(urls, 0, &run, &entry_len);
        CHECK(camb_audio_url_list_len(urls) == 2 && run == 4242 &&
                  is_audio_url(entry, entry_len, 4242),
              "job %s: entry 0 is run %" PRId64 ", \"%s\"", what, run, shown(entry));
        entry = camb_audio_url_list_get(urls, 1, &run, &entry_len);
        CHECK(run == NO_SUCH_RUN && entry == NULL && entry_len == 0,
              "job %s: entry 1 is run %" PRId64 ", \"%s\"", what, run, shown(entry));
        break;
    }
    case JOB_BATCH:
        CHECK(camb_task_list_len(list) == 3, "job %s: %zu tasks", what, camb_task_list_len(list));
        if (camb_task_list_len(list) == 3) {
            check_task(camb_task_list_get(list, 0), "demo-success", &WANT_SUCCESS, NULL,
                       "job batch[0]");
            check_task(camb_task_list_get(list, 1), "stress-jobs-missing", &WANT_NOT_FOUND,
                       "stress-jobs-missing", "job batch[1]");
            check_task(camb_task_list_get(list, 2), "", &WANT_NULL_ID, NULL, "job batch[2]");
        }
        break;
    case JOB_GENERATE:
        CHECK(id != NULL && id_len > 0 && task != NULL &&
                  camb_task_status(task) == CAMB_STATUS_SUCCESS &&
                  same_text(camb_task_id(task, NULL), id_len, id) &&
                  camb_job_task_status(job) == CAMB_STATUS_SUCCESS,
              "job %s: its task", what);
        CHECK(stat(want->path, &st) == 0 && (uint64_t)st.st_size == bytes && bytes > 44,
              "job %s: %s is not the %" PRIu64 " bytes reported", what, want->path, bytes);
        break;
    case JOB_GENERATE_FAILED: {
        size_t reason_len = 0;
        const char *reason = camb_task_exception_reason(task, &reason_len);
        CHECK(task != NULL && camb_task_status(task) == CAMB_STATUS_ERROR &&
                  same_text(reason, reason_len, "PROCESSING_ERROR") && id != NULL &&
                  same_text(camb_task_id(task, NULL), id_len, id) &&
                  camb_job_task_status(job) == CAMB_STATUS_ERROR,
              "job %s: its task is %s (%s)", what, camb_status_name(camb_task_status(task)),
              shown(reason));
        CHECK(error != NULL && strstr(error, "ERROR") != NULL, "job %s: error \"%s\"", what,
              shown(error));
        CHECK(stat(want->path, &st) != 0, "job %s: a failed generation left %s", what,
              want->path);
        break;
    }
    default:
        break;
    }
    if (want->path[0] != '\0') {
        unlink(want->path);
    }
}

/*
 * Makes the job `want` describes (its path set here, under `tag`), unsubmitted.
 * The result of the camb_client_job_* call.
 */
static camb_result make_job(const camb_client *client, struct job_want *want, const char *tag,
                            camb_job **out) {
    static const char *const batch_ids[3] = {"demo-success", "stress-jobs-missing", NULL};
    static const int64_t run_ids[2] = {4242, NO_SUCH_RUN};
    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    camb_create_options options = camb_create_options_default();
    options.duration_s = 0.5;
    char prompt[160];
    want->path[0] = '\0';
    atomic_store(&want->delivered, false);
    switch (want->check) {
    case JOB_STATUS_SUCCESS:
        return camb_client_job_get_task_status(client, "demo-success", out);
    case JOB_STATUS_MISSING:
        return camb_client_job_get_task_status(client, "stress-jobs-missing", out);
    case JOB_CREATE:
        snprintf(prompt, sizeof prompt, "stress jobs %s: a bell [pending_ms:0]", tag);
        return camb_client_job_create_task(client, prompt, &options, out);
    case JOB_WAIT_SUCCESS:
        return camb_client_job_wait_for_task(client, "demo-success", &wait, out);
    case JOB_DOWNLOAD:
        return camb_client_job_download_audio(client, 4242, out);
    case JOB_DOWNLOAD_MISSING:
        return camb_client_job_download_audio(client, NO_SUCH_RUN, out);
    case JOB_SAVE:
        snprintf(want->path, sizeof want->path, "/tmp/camb-stress-%ld-%s-save.wav",
                 (long)getpid(), tag);
        return camb_client_job_save_audio(client, 4242, want->path, out);
    case JOB_AUDIO_URL:
        return camb_client_job_get_audio_url(client, 4242, out);
    case JOB_AUDIO_URLS:
        return camb_client_job_get_audio_urls(client, run_ids, 2, out);
    case JOB_BATCH:
        return camb_client_job_get_task_statuses(client, batch_ids, 3, 2, out);
    case JOB_GENERATE:
        snprintf(want->path, sizeof want->path, "/tmp/camb-stress-%ld-%s-gen.wav",
                 (long)getpid(), tag);
        snprintf(prompt, sizeof prompt, "stress jobs %s: rain [pending_ms:50]", tag);
        return camb_client_job_generate(client, prompt, &options, &wait, want->path, out);
    case JOB_GENERATE_FAILED:
        snprintf(want->path, sizeof want->path, "/tmp/camb-stress-%ld-%s-fail.wav",
                 (long)getpid(), tag);
        snprintf(prompt, sizeof prompt, "stress jobs %s: glass [status:ERROR] [pending_ms:0]",
                 tag);
        return camb_client_job_generate(client, prompt, &options, &wait, want->path, out);
    default:
        return CAMB_RESULT_PANIC;
    }
}

/* A job just made, before its submit: the caller's, doing nothing, telling nothing. */
static void check_new_job(const camb_job *job, const struct job_want *want) {
    const struct job_spec *spec = &JOB_SPECS[want->check];
    size_t len = 777;
    CHECK(camb_job_get_state(job) == CAMB_JOB_STATE_NEW && camb_job_get_kind(job) == spec->kind &&
              camb_job_result(job) == CAMB_RESULT_NOT_READY && camb_job_user_data(job) == NULL &&
              camb_job_error(job, &len) == NULL && len == 0 && camb_job_task(job) == NULL &&
              camb_job_task_list(job) == NULL && camb_job_task_id(job, NULL) == NULL &&
              camb_job_bytes(job) == 0 && camb_job_audio(job, NULL) == NULL &&
              camb_job_audio_url(job, NULL) == NULL && camb_job_audio_url_list(job) == NULL &&
              camb_job_polls(job) == 0 && camb_job_task_status(job) == CAMB_STATUS_UNKNOWN &&
              camb_job_http_status(job) == 0,
          "new job %s: state %u, kind %u, result %s, or an output", spec->name,
          (unsigned)camb_job_get_state(job), (unsigned)camb_job_get_kind(job),
          camb_result_name(camb_job_result(job)));
}

/*
 * Makes and submits `copies` jobs of every kind to `queue`, want[i] describing
 * job i (JOB_CHECK_COUNT * copies of them) and being its user_data. The number
 * submitted.
 */
static unsigned submit_every_kind(const camb_client *client, camb_queue *queue,
                                  struct job_want *want, int copies, const char *tag) {
    unsigned submitted = 0;
    for (int i = 0; i < JOB_CHECK_COUNT * copies; i++) {
        struct job_want *w = &want[i];
        w->check = (enum job_check)(i % JOB_CHECK_COUNT);
        char job_tag[64];
        snprintf(job_tag, sizeof job_tag, "%s-%d", tag, i);
        camb_job *job = SENTINEL_JOB;
        w->job = NULL;
        if (!expect(make_job(client, w, job_tag, &job), CAMB_RESULT_OK, JOB_SPECS[w->check].name)) {
            continue;
        }
        CHECK(job != SENTINEL_JOB && job != NULL, "%s: no job", JOB_SPECS[w->check].name);
        check_new_job(job, w);
        w->job = job;
        if (expect(camb_job_submit(job, queue, w), CAMB_RESULT_OK, "camb_job_submit")) {
            submitted++;
        } else {
            camb_job_free(job); /* still ours after a refused submit */
            w->job = NULL;
        }
    }
    return submitted;
}

/*
 * Takes one event's job: it must be JOB_DONE, one of `wants` (n) by its
 * user_data, delivered once; checked and freed. True when it was one of them.
 */
static bool take_delivered(camb_event event, camb_job *job, struct job_want *wants, int n) {
    CHECK(event == CAMB_EVENT_JOB_DONE, "the queue gave event %u", (unsigned)event);
    struct job_want *w = camb_job_user_data(job);
    bool ours = w != NULL && w >= wants && w < wants + n && w->job == job;
    CHECK(ours, "the queue gave a job that was not submitted to it (%p)", (void *)job);
    if (!ours || event != CAMB_EVENT_JOB_DONE) {
        return false; /* not ours to free */
    }
    CHECK(!atomic_exchange(&w->delivered, true), "job %s was delivered twice",
          JOB_SPECS[w->check].name);
    check_finished_job(job, w);
    camb_job_free(job);
    return true;
}

/* Takes `want` jobs off the queue, waiting on its readiness handle with poll(2)
 * and popping until NOT_READY; the count taken. */
static unsigned take_by_poll(const camb_queue *queue, struct job_want *wants, int n,
                             unsigned want, int64_t timeout_ms) {
    unsigned taken = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    while (taken < want && mono_ms() < deadline) {
        struct pollfd fd = {(int)camb_queue_fd(queue), POLLIN, 0};
        if (poll(&fd, 1, 50) != 1) {
            continue;
        }
        camb_event event = SENTINEL_EVENT;
        camb_job *job = NULL;
        unsigned popped = 0;
        camb_result r;
        while ((r = camb_queue_pop(queue, &event, &job)) == CAMB_RESULT_OK) {
            popped++;
            taken += take_delivered(event, job, wants, n);
        }
        CHECK(r == CAMB_RESULT_NOT_READY, "camb_queue_pop: %s", camb_result_name(r));
        CHECK(popped > 0, "the readiness handle was readable, but nothing could be popped");
    }
    return taken;
}

/* Takes `want` jobs off the queue with camb_queue_wait; the count taken. */
static unsigned take_by_wait(const camb_queue *queue, struct job_want *wants, int n,
                             unsigned want, int64_t timeout_ms) {
    unsigned taken = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    while (taken < want && mono_ms() < deadline) {
        camb_event event = SENTINEL_EVENT;
        camb_job *job = SENTINEL_JOB;
        camb_result r = camb_queue_wait(queue, 200, &event, &job);
        if (r == CAMB_RESULT_TIMEOUT) {
            CHECK(event == SENTINEL_EVENT && job == SENTINEL_JOB,
                  "a camb_queue_wait that timed out wrote its out-parameters");
            continue;
        }
        if (expect(r, CAMB_RESULT_OK, "camb_queue_wait")) {
            taken += take_delivered(event, job, wants, n);
        }
    }
    return taken;
}

/* Many threads taking from one queue at once, each with camb_queue_wait. */
struct taker {
    const camb_queue *queue;
    struct job_want *wants;
    int n;
    atomic_uint *taken;
    unsigned want;
    unsigned mine;
};

static void *taker_thread(void *arg) {
    struct taker *t = arg;
    int64_t deadline = mono_ms() + JOB_TIMEOUT_MS;
    while (atomic_load(t->taken) < t->want && mono_ms() < deadline) {
        camb_event event = SENTINEL_EVENT;
        camb_job *job = NULL;
        /* Short waits: the thread notices when the others took the last job. */
        camb_result r = camb_queue_wait(t->queue, 20, &event, &job);
        if (r == CAMB_RESULT_OK) {
            if (take_delivered(event, job, t->wants, t->n)) {
                atomic_fetch_add(t->taken, 1);
                t->mine++;
            }
        } else {
            CHECK(r == CAMB_RESULT_TIMEOUT, "camb_queue_wait on a thread: %s",
                  camb_result_name(r));
        }
    }
    return NULL;
}

/*
 * Every function of the jobs with NULL and bad arguments: the documented code,
 * no job made, out-parameters untouched; the accessors of a NULL job.
 */
static void bad_job_calls(const camb_client *client, camb_queue *queue) {
    camb_job *job = SENTINEL_JOB;
    camb_create_options options = camb_create_options_default();
    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    const char *ids[1] = {"demo-success"};
    static const char *too_many_ids[100001]; /* never read: the count is refused first */
    static int64_t runs[1001];

    /* NULL client and NULL out_job, for every make function. */
    expect(camb_client_job_get_task_status(NULL, "demo-success", &job),
           CAMB_RESULT_NULL_PARAMETER, "job_get_task_status(NULL client)");
    expect(camb_client_job_get_task_status(client, "demo-success", NULL),
           CAMB_RESULT_NULL_PARAMETER, "job_get_task_status(NULL out_job)");
    expect(camb_client_job_create_task(NULL, "x", NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_create_task(NULL client)");
    expect(camb_client_job_create_task(client, "x", NULL, NULL), CAMB_RESULT_NULL_PARAMETER,
           "job_create_task(NULL out_job)");
    expect(camb_client_job_wait_for_task(NULL, "demo-success", NULL, &job),
           CAMB_RESULT_NULL_PARAMETER, "job_wait_for_task(NULL client)");
    expect(camb_client_job_wait_for_task(client, "demo-success", NULL, NULL),
           CAMB_RESULT_NULL_PARAMETER, "job_wait_for_task(NULL out_job)");
    expect(camb_client_job_download_audio(NULL, 4242, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_download_audio(NULL client)");
    expect(camb_client_job_download_audio(client, 4242, NULL), CAMB_RESULT_NULL_PARAMETER,
           "job_download_audio(NULL out_job)");
    expect(camb_client_job_save_audio(NULL, 4242, "/tmp/x.wav", &job), CAMB_RESULT_NULL_PARAMETER,
           "job_save_audio(NULL client)");
    expect(camb_client_job_save_audio(client, 4242, "/tmp/x.wav", NULL),
           CAMB_RESULT_NULL_PARAMETER, "job_save_audio(NULL out_job)");
    expect(camb_client_job_get_audio_url(NULL, 4242, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_get_audio_url(NULL client)");
    expect(camb_client_job_get_audio_url(client, 4242, NULL), CAMB_RESULT_NULL_PARAMETER,
           "job_get_audio_url(NULL out_job)");
    expect(camb_client_job_get_audio_urls(NULL, runs, 1, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_get_audio_urls(NULL client)");
    expect(camb_client_job_get_audio_urls(client, runs, 1, NULL), CAMB_RESULT_NULL_PARAMETER,
           "job_get_audio_urls(NULL out_job)");
    expect(camb_client_job_get_task_statuses(NULL, ids, 1, 0, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_get_task_statuses(NULL client)");
    expect(camb_client_job_get_task_statuses(client, ids, 1, 0, NULL),
           CAMB_RESULT_NULL_PARAMETER, "job_get_task_statuses(NULL out_job)");
    expect(camb_client_job_generate(NULL, "x", NULL, NULL, "/tmp/x.wav", &job),
           CAMB_RESULT_NULL_PARAMETER, "job_generate(NULL client)");
    expect(camb_client_job_generate(client, "x", NULL, NULL, "/tmp/x.wav", NULL),
           CAMB_RESULT_NULL_PARAMETER, "job_generate(NULL out_job)");

    /* Each function's own arguments, checked when the job is made. */
    expect(camb_client_job_get_task_status(client, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_get_task_status(NULL id)");
    expect(camb_client_job_get_task_status(client, "..", &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_get_task_status(\"..\")");
    expect(camb_client_job_get_task_status(client, "", &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_get_task_status(empty id)");
    expect(camb_client_job_get_task_status(client, "\xff", &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_get_task_status(invalid UTF-8)");
    expect(camb_client_job_get_task_status(client, g_long_id, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_get_task_status(1025-byte id)");
    expect(camb_client_job_create_task(client, NULL, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_create_task(NULL prompt)");
    expect(camb_client_job_create_task(client, "", NULL, &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_create_task(empty prompt)");
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 11.0;
    expect(camb_client_job_create_task(client, "x", &options, &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_create_task(11 s of sound)");
    options = camb_create_options_default();
    options.audio_type = 99;
    expect(camb_client_job_create_task(client, "x", &options, &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_create_task(audio_type 99)");
    options = camb_create_options_default();
    options.struct_size = 0;
    expect(camb_client_job_create_task(client, "x", &options, &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_create_task(struct_size 0)");
    options = camb_create_options_default();
    expect(camb_client_job_wait_for_task(client, NULL, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_wait_for_task(NULL id)");
    expect(camb_client_job_wait_for_task(client, "..", NULL, &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_wait_for_task(\"..\")");
    wait.backoff_factor = 0.0;
    expect(camb_client_job_wait_for_task(client, "demo-success", &wait, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_wait_for_task(backoff 0)");
    wait = quick_wait(TIMEOUT_MS);
    wait.struct_size = 0;
    expect(camb_client_job_wait_for_task(client, "demo-success", &wait, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_wait_for_task(struct_size 0)");
    expect(camb_client_job_save_audio(client, 4242, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_save_audio(NULL path)");
    expect(camb_client_job_save_audio(client, 4242, "", &job), CAMB_RESULT_INVALID_PARAMETER,
           "job_save_audio(empty path)");
    expect(camb_client_job_get_audio_urls(client, NULL, 1, &job), CAMB_RESULT_NULL_PARAMETER,
           "job_get_audio_urls(NULL ids, count 1)");
    expect(camb_client_job_get_audio_urls(client, runs, 1001, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_get_audio_urls(count 1001)");
    expect(camb_client_job_get_task_statuses(client, NULL, 1, 0, &job),
           CAMB_RESULT_NULL_PARAMETER, "job_get_task_statuses(NULL ids)");
    expect(camb_client_job_get_task_statuses(client, too_many_ids, 100001, 0, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_get_task_statuses(100001 ids)");
    expect(camb_client_job_get_task_statuses(client, ids, 1, 33, &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_get_task_statuses(33 connections)");
    expect(camb_client_job_generate(client, NULL, NULL, NULL, "/tmp/x.wav", &job),
           CAMB_RESULT_NULL_PARAMETER, "job_generate(NULL prompt)");
    expect(camb_client_job_generate(client, "x", NULL, NULL, NULL, &job),
           CAMB_RESULT_NULL_PARAMETER, "job_generate(NULL path)");
    expect(camb_client_job_generate(client, "", NULL, NULL, "/tmp/x.wav", &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_generate(empty prompt)");
    expect(camb_client_job_generate(client, "x", NULL, NULL, "", &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_generate(empty path)");
    wait.struct_size = sizeof wait;
    wait.backoff_factor = 0.0;
    expect(camb_client_job_generate(client, "x", NULL, &wait, "/tmp/x.wav", &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_generate(backoff 0)");
    options.duration_s = -1.0;
    expect(camb_client_job_generate(client, "x", &options, NULL, "/tmp/x.wav", &job),
           CAMB_RESULT_INVALID_PARAMETER, "job_generate(duration -1)");
    /* The path is refused before any task is created (and billed). */
    expect(camb_client_job_generate(client, "x", NULL, NULL, "/nonexistent-camb-stress/x.wav",
                                    &job),
           CAMB_RESULT_IO, "job_generate(a missing directory)");
    expect(camb_client_job_generate(client, "x", NULL, NULL, "/tmp", &job), CAMB_RESULT_IO,
           "job_generate(a directory)");
    CHECK(job == SENTINEL_JOB, "a refused camb_client_job_* call wrote its out-parameter");

    /* camb_job_submit: NULL job or queue, leaving a job the caller's. */
    expect(camb_job_submit(NULL, queue, NULL), CAMB_RESULT_NULL_PARAMETER,
           "camb_job_submit(NULL job)");
    job = NULL;
    if (expect(camb_client_job_get_task_status(client, "demo-success", &job), CAMB_RESULT_OK,
               "job_get_task_status")) {
        expect(camb_job_submit(job, NULL, NULL), CAMB_RESULT_NULL_PARAMETER,
               "camb_job_submit(NULL queue)");
        CHECK(camb_job_get_state(job) == CAMB_JOB_STATE_NEW && camb_job_user_data(job) == NULL,
              "a refused submit changed the job");
        camb_job_free(job); /* never submitted: freed */
    }

    /* The job functions with NULL: defined answers, no crash. */
    size_t len = 777;
    CHECK(camb_job_get_kind(NULL) == CAMB_JOB_KIND_NONE, "camb_job_get_kind(NULL)");
    CHECK(camb_job_get_state(NULL) == CAMB_JOB_STATE_DONE, "camb_job_get_state(NULL)");
    CHECK(camb_job_result(NULL) == CAMB_RESULT_NULL_PARAMETER, "camb_job_result(NULL)");
    CHECK(camb_job_error(NULL, &len) == NULL && len == 0, "camb_job_error(NULL)");
    len = 777;
    CHECK(camb_job_task_id(NULL, &len) == NULL && len == 0, "camb_job_task_id(NULL)");
    len = 777;
    CHECK(camb_job_audio(NULL, &len) == NULL && len == 0, "camb_job_audio(NULL)");
    len = 777;
    CHECK(camb_job_audio_url(NULL, &len) == NULL && len == 0, "camb_job_audio_url(NULL)");
    CHECK(camb_job_http_status(NULL) == 0 && camb_job_task(NULL) == NULL &&
              camb_job_task_list(NULL) == NULL && camb_job_bytes(NULL) == 0 &&
              camb_job_audio_url_list(NULL) == NULL && camb_job_polls(NULL) == 0 &&
              camb_job_task_status(NULL) == CAMB_STATUS_UNKNOWN &&
              camb_job_user_data(NULL) == NULL && camb_job_audio(NULL, NULL) == NULL &&
              camb_job_audio_url(NULL, NULL) == NULL && camb_job_error(NULL, NULL) == NULL &&
              camb_job_task_id(NULL, NULL) == NULL,
          "the job accessors with NULL");
    expect(camb_job_cancel(NULL), CAMB_RESULT_NULL_PARAMETER, "camb_job_cancel(NULL)");
    camb_job_free(NULL);

    /* The queue functions with NULL. */
    camb_queue *none = SENTINEL_QUEUE;
    expect(camb_queue_new(NULL), CAMB_RESULT_NULL_PARAMETER, "camb_queue_new(NULL)");
    CHECK(camb_queue_fd(NULL) == -1, "camb_queue_fd(NULL)");
    camb_event event = SENTINEL_EVENT;
    job = SENTINEL_JOB;
    expect(camb_queue_pop(NULL, &event, &job), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_pop(NULL queue)");
    expect(camb_queue_pop(queue, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_pop(NULL out_event)");
    expect(camb_queue_pop(queue, &event, NULL), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_pop(NULL out_job)");
    expect(camb_queue_wait(NULL, 10, &event, &job), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_wait(NULL queue)");
    expect(camb_queue_wait(queue, 10, NULL, &job), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_wait(NULL out_event)");
    expect(camb_queue_wait(queue, 10, &event, NULL), CAMB_RESULT_NULL_PARAMETER,
           "camb_queue_wait(NULL out_job)");
    CHECK(job == SENTINEL_JOB && event == SENTINEL_EVENT && none == SENTINEL_QUEUE,
          "a refused queue call wrote its out-parameters");
    camb_queue_free(NULL);
}

/*
 * Jobs in each state of their life before they run: made and freed, never
 * submitted; cancelled before their submit; submitted twice; a delivered job
 * submitted again. `queue` is empty before and after.
 */
static void job_lives(const camb_client *client, camb_queue *queue) {
    /* Made, inspected, freed: never submitted, never delivered. */
    struct job_want made[JOB_CHECK_COUNT];
    for (int k = 0; k < JOB_CHECK_COUNT; k++) {
        made[k].check = (enum job_check)k;
        camb_job *job = NULL;
        if (expect(make_job(client, &made[k], "never-submitted", &job), CAMB_RESULT_OK,
                   JOB_SPECS[k].name)) {
            check_new_job(job, &made[k]);
            expect(camb_job_cancel(job), CAMB_RESULT_OK, "camb_job_cancel(a new job)");
            camb_job_free(job);
        }
        if (made[k].path[0] != '\0') {
            struct stat st;
            CHECK(stat(made[k].path, &st) != 0, "a job never submitted wrote %s", made[k].path);
        }
    }

    /* Cancelled before its submit: it runs nothing, and is delivered CANCELLED. */
    struct job_want early = {.check = JOB_GENERATE};
    camb_job *job = NULL;
    if (expect(make_job(client, &early, "cancelled-early", &job), CAMB_RESULT_OK,
               "job_generate (to cancel before its submit)")) {
        expect(camb_job_cancel(job), CAMB_RESULT_OK, "camb_job_cancel before submit");
        CHECK(camb_job_get_state(job) == CAMB_JOB_STATE_NEW, "a cancelled new job is not NEW");
        if (expect(camb_job_submit(job, queue, &early), CAMB_RESULT_OK,
                   "camb_job_submit(a cancelled job)")) {
            camb_event event = SENTINEL_EVENT;
            camb_job *got = NULL;
            if (expect(camb_queue_wait(queue, JOB_TIMEOUT_MS, &event, &got), CAMB_RESULT_OK,
                       "camb_queue_wait(a job cancelled before its submit)")) {
                CHECK(event == CAMB_EVENT_JOB_DONE && got == job &&
                          camb_job_user_data(got) == &early &&
                          camb_job_result(got) == CAMB_RESULT_CANCELLED &&
                          camb_job_polls(got) == 0 && camb_job_task_id(got, NULL) == NULL,
                      "a job cancelled before its submit is %s after %" PRIu32 " polls",
                      camb_result_name(camb_job_result(got)), camb_job_polls(got));
                camb_job_free(got);
            } else {
                camb_job_free(job); /* in flight: cancels; the queue frees it later */
            }
        } else {
            camb_job_free(job);
        }
        struct stat st;
        CHECK(stat(early.path, &st) != 0, "a job cancelled before its submit wrote %s",
              early.path);
    }

    /* Submitted twice: the second is refused and changes nothing; delivered once. */
    struct job_want twice = {.check = JOB_STATUS_SUCCESS};
    job = NULL;
    if (expect(make_job(client, &twice, "twice", &job), CAMB_RESULT_OK, "job (submitted twice)") &&
        expect(camb_job_submit(job, queue, &twice), CAMB_RESULT_OK, "camb_job_submit")) {
        twice.job = job;
        expect(camb_job_submit(job, queue, NULL), CAMB_RESULT_INVALID_PARAMETER,
               "camb_job_submit of a job in flight");
        expect_error_mentions("submitted", "camb_job_submit of a job in flight");
        camb_event event = SENTINEL_EVENT;
        camb_job *got = NULL;
        if (expect(camb_queue_wait(queue, JOB_TIMEOUT_MS, &event, &got), CAMB_RESULT_OK,
                   "camb_queue_wait(a job submitted twice)")) {
            CHECK(got == job && camb_job_user_data(got) == &twice,
                  "a second submit changed the job's user_data");
            check_finished_job(got, &twice);
            /* Delivered, and the caller's again: it cannot run again. */
            expect(camb_job_submit(got, queue, &twice), CAMB_RESULT_INVALID_PARAMETER,
                   "camb_job_submit of a delivered job");
            CHECK(camb_job_result(got) == CAMB_RESULT_OK && camb_job_task(got) != NULL,
                  "a refused submit changed a delivered job");
            camb_job_free(got);
        }
        event = SENTINEL_EVENT;
        got = SENTINEL_JOB;
        expect(camb_queue_wait(queue, 100, &event, &got), CAMB_RESULT_TIMEOUT,
               "camb_queue_wait after a job submitted twice was delivered");
        CHECK(got == SENTINEL_JOB && event == SENTINEL_EVENT, "a job was delivered twice");
    } else {
        camb_job_free(job);
    }
}

/* camb_queue_wait's timeouts, and a wait woken by a job. */
struct waker {
    const camb_queue *queue;
    camb_result result;
    camb_event event;
    camb_job *job;
    atomic_bool waiting;
};

static void *wait_forever_thread(void *arg) {
    struct waker *w = arg;
    atomic_store(&w->waiting, true);
    w->result = camb_queue_wait(w->queue, UINT32_MAX, &w->event, &w->job);
    return NULL;
}

static void queue_waits(const camb_client *client, camb_queue *queue) {
    camb_event event = SENTINEL_EVENT;
    camb_job *job = SENTINEL_JOB;
    int64_t t0 = mono_ms();
    expect(camb_queue_wait(queue, 0, &event, &job), CAMB_RESULT_TIMEOUT,
           "camb_queue_wait(0 ms) on an empty queue");
    int64_t t1 = mono_ms();
    expect(camb_queue_wait(queue, 150, &event, &job), CAMB_RESULT_TIMEOUT,
           "camb_queue_wait(150 ms) on an empty queue");
    int64_t t2 = mono_ms();
    CHECK(t1 - t0 < 1000, "camb_queue_wait(0 ms) took %" PRId64 " ms", t1 - t0);
    /* Not before its time; under valgrind, maybe much later. */
    CHECK(t2 - t1 >= 140 && t2 - t1 < 20000, "camb_queue_wait(150 ms) took %" PRId64 " ms",
          t2 - t1);
    CHECK(job == SENTINEL_JOB && event == SENTINEL_EVENT,
          "a camb_queue_wait that timed out wrote its out-parameters");
    expect(camb_queue_pop(queue, &event, &job), CAMB_RESULT_NOT_READY, "pop of an empty queue");
    CHECK(job == SENTINEL_JOB && event == SENTINEL_EVENT,
          "an empty pop wrote its out-parameters");
    CHECK(camb_queue_fd(queue) >= 0 && !queue_readable(queue),
          "an empty queue's readiness handle is readable");

    /* A thread waiting with no limit is woken by the job submitted after it began. */
    struct waker waker = {queue, CAMB_RESULT_PANIC, SENTINEL_EVENT, NULL, false};
    pthread_t thread;
    if (pthread_create(&thread, NULL, wait_forever_thread, &waker) != 0) {
        CHECK(false, "cannot start a thread");
        return;
    }
    while (!atomic_load(&waker.waiting)) {
        sleep_ms(1);
    }
    sleep_ms(20); /* most likely inside camb_queue_wait by now; either way it gets the job */
    struct job_want want = {.check = JOB_STATUS_SUCCESS};
    job = NULL;
    bool submitted = expect(make_job(client, &want, "woken", &job), CAMB_RESULT_OK,
                            "job (to wake a waiting thread)") &&
                     expect(camb_job_submit(job, queue, &want), CAMB_RESULT_OK,
                            "camb_job_submit (to wake a waiting thread)");
    if (submitted) {
        want.job = job;
        pthread_join(thread, NULL); /* the job is delivered within the client's timeout */
        CHECK(waker.result == CAMB_RESULT_OK && waker.event == CAMB_EVENT_JOB_DONE &&
                  waker.job == job,
              "camb_queue_wait(UINT32_MAX) on a thread: %s", camb_result_name(waker.result));
        if (waker.result == CAMB_RESULT_OK) {
            take_delivered(waker.event, waker.job, &want, 1);
        }
    } else {
        /* Nothing will come: the waiting thread is left blocked, and the process fails. */
        camb_job_free(job);
        pthread_detach(thread);
    }
}

/* Slow waits (demo-pending polled once, then a minute on the timer), submitted to
 * `queue` and waiting between polls; want[i].check is JOB_WAIT_SUCCESS but they
 * are checked by the caller. The number waiting. */
static int submit_slow_waits(const camb_client *client, camb_queue *queue, struct job_want *want,
                             int n) {
    camb_wait_options slow = camb_wait_options_default();
    slow.initial_interval_ms = 60000;
    slow.max_interval_ms = 60000;
    slow.deadline_ms = 600000;
    int waiting = 0;
    for (int i = 0; i < n; i++) {
        want[i].check = JOB_WAIT_SUCCESS;
        want[i].path[0] = '\0';
        atomic_store(&want[i].delivered, false);
        want[i].job = NULL;
        camb_job *job = NULL;
        if (!expect(camb_client_job_wait_for_task(client, "demo-pending", &slow, &job),
                    CAMB_RESULT_OK, "job_wait_for_task(demo-pending, slow)")) {
            continue;
        }
        if (!expect(camb_job_submit(job, queue, &want[i]), CAMB_RESULT_OK, "camb_job_submit")) {
            camb_job_free(job);
            continue;
        }
        want[i].job = job;
    }
    for (int i = 0; i < n; i++) {
        if (want[i].job != NULL) {
            bool ok = job_reaches(want[i].job, CAMB_JOB_STATE_WAITING, JOB_TIMEOUT_MS);
            CHECK(ok, "a slow wait never waited between polls");
            CHECK(camb_job_result(want[i].job) == CAMB_RESULT_NOT_READY &&
                      camb_job_polls(want[i].job) == 1 &&
                      camb_job_task_status(want[i].job) == CAMB_STATUS_PENDING,
                  "a waiting job: %s, %" PRIu32 " polls, status %s",
                  camb_result_name(camb_job_result(want[i].job)), camb_job_polls(want[i].job),
                  camb_status_name(camb_job_task_status(want[i].job)));
            waiting += ok;
        }
    }
    return waiting;
}

/*
 * Takes `n` cancelled jobs of `want` off the queue (any order): each delivered
 * once, CANCELLED (or OK when `ok_too` and it finished first), then freed.
 * The count taken.
 */
static unsigned take_cancelled(const camb_queue *queue, struct job_want *want, int n,
                               bool ok_too, const char *what) {
    unsigned taken = 0;
    int64_t deadline = mono_ms() + JOB_TIMEOUT_MS;
    unsigned expected = 0;
    for (int i = 0; i < n; i++) {
        expected += want[i].job != NULL;
    }
    while (taken < expected && mono_ms() < deadline) {
        camb_event event = SENTINEL_EVENT;
        camb_job *job = NULL;
        if (camb_queue_wait(queue, 100, &event, &job) != CAMB_RESULT_OK) {
            continue;
        }
        struct job_want *w = camb_job_user_data(job);
        bool ours = event == CAMB_EVENT_JOB_DONE && w >= want && w < want + n && w->job == job;
        CHECK(ours, "%s: the queue gave a job that was not submitted to it", what);
        if (!ours) {
            continue;
        }
        CHECK(!atomic_exchange(&w->delivered, true), "%s: a job delivered twice", what);
        camb_result r = camb_job_result(job);
        CHECK(r == CAMB_RESULT_CANCELLED || (ok_too && r == CAMB_RESULT_OK),
              "%s: a job is %s", what, camb_result_name(r));
        if (r == CAMB_RESULT_CANCELLED) {
            size_t len = 0;
            const char *error = camb_job_error(job, &len);
            CHECK(error != NULL && len > 0 && camb_job_task(job) == NULL,
                  "%s: a cancelled job has no error, or a task", what);
            /* Cancelling a finished job changes nothing. */
            expect(camb_job_cancel(job), CAMB_RESULT_OK, "camb_job_cancel (delivered)");
            CHECK(camb_job_result(job) == CAMB_RESULT_CANCELLED &&
                      camb_job_error(job, NULL) == error,
                  "%s: a second cancel changed a finished job", what);
        }
        camb_job_free(job);
        taken++;
    }
    CHECK(taken == expected, "%s: %u of %u delivered", what, taken, expected);
    return taken;
}

/* The log function's record: lines and finalizer calls counted. */
struct log_record {
    atomic_uint lines;
    atomic_uint finalized;
    atomic_bool line_after_finalizer;
    atomic_bool finalizer_elsewhere; /* ran on another thread than `owner` */
    pthread_t owner;
};

static void log_record_init(struct log_record *record) {
    atomic_store(&record->lines, 0);
    atomic_store(&record->finalized, 0);
    atomic_store(&record->line_after_finalizer, false);
    atomic_store(&record->finalizer_elsewhere, false);
    record->owner = pthread_self();
}

static void on_log(uint32_t level, const char *line, size_t len, void *user_data) {
    struct log_record *record = user_data;
    if (atomic_load(&record->finalized) != 0) {
        atomic_store(&record->line_after_finalizer, true);
    }
    CHECK(level >= CAMB_LOG_LEVEL_ERROR && level <= CAMB_LOG_LEVEL_DEBUG && line != NULL &&
              strlen(line) == len && strchr(line, '\n') == NULL,
          "a log line of level %" PRIu32 " is not one line of its length", level);
    CHECK(line == NULL || strstr(line, g_api_key) == NULL, "a log line holds the API key");
    atomic_fetch_add(&record->lines, 1);
}

static void on_log_finalized(void *user_data) {
    struct log_record *record = user_data;
    atomic_fetch_add(&record->finalized, 1);
    if (!pthread_equal(pthread_self(), record->owner)) {
        atomic_store(&record->finalizer_elsewhere, true);
    }
}

/* A builder for the emulator with `record`'s log function; NULL on failure. */
static camb_client_builder *logging_builder(struct log_record *record) {
    camb_client_builder *builder = camb_client_builder_new();
    expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK, "set_api_key");
    expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK, "set_base_url");
    if (!expect(camb_client_builder_set_log(builder, CAMB_LOG_LEVEL_DEBUG, on_log, record,
                                            on_log_finalized),
                CAMB_RESULT_OK, "set_log")) {
        camb_client_builder_free(builder);
        return NULL;
    }
    return builder;
}

static void expect_finalized(const struct log_record *record, unsigned want, const char *what) {
    unsigned got = atomic_load(&record->finalized);
    CHECK(got == want, "%s: the log finalizer ran %u times, want %u", what, got, want);
    CHECK(!atomic_load(&record->line_after_finalizer), "%s: a log line after the finalizer",
          what);
    CHECK(!atomic_load(&record->finalizer_elsewhere),
          "%s: the finalizer ran on another thread than the one that ended the log", what);
}

/*
 * camb_client_builder_set_log's finalizer runs exactly once: when the client is
 * freed (jobs in flight or not), the builder freed, a build fails, or another
 * function replaces it; never for a refused set_log; no line after it.
 */
static void log_finalizers(void) {
    struct log_record a, b;

    /* Refused: the finalizer is not called, user_data stays ours. */
    log_record_init(&a);
    expect(camb_client_builder_set_log(NULL, CAMB_LOG_LEVEL_DEBUG, on_log, &a, on_log_finalized),
           CAMB_RESULT_NULL_PARAMETER, "set_log(NULL builder)");
    camb_client_builder *builder = camb_client_builder_new();
    expect(camb_client_builder_set_log(builder, CAMB_LOG_LEVEL_DEBUG, NULL, &a, on_log_finalized),
           CAMB_RESULT_NULL_PARAMETER, "set_log(NULL callback)");
    expect(camb_client_builder_set_log(builder, 0, on_log, &a, on_log_finalized),
           CAMB_RESULT_INVALID_PARAMETER, "set_log(level 0)");
    expect(camb_client_builder_set_log(builder, 5, on_log, &a, on_log_finalized),
           CAMB_RESULT_INVALID_PARAMETER, "set_log(level 5)");
    expect_finalized(&a, 0, "refused set_log");
    camb_client_builder_free(builder);
    expect_finalized(&a, 0, "refused set_log, builder freed");

    /* A NULL finalizer is allowed. */
    builder = camb_client_builder_new();
    expect(camb_client_builder_set_log(builder, CAMB_LOG_LEVEL_ERROR, on_log, &a, NULL),
           CAMB_RESULT_OK, "set_log(NULL finalizer)");
    camb_client_builder_free(builder);

    /* The builder freed. */
    log_record_init(&a);
    builder = logging_builder(&a);
    camb_client_builder_free(builder);
    expect_finalized(&a, 1, "builder freed");

    /* A build that fails: refused for a setting, and for a NULL out_client. */
    log_record_init(&a);
    builder = logging_builder(&a);
    expect(camb_client_builder_set_timeout_ms(builder, 0), CAMB_RESULT_INVALID_PARAMETER,
           "set_timeout_ms(0)");
    camb_client *client = NULL;
    expect(camb_client_builder_build(builder, &client), CAMB_RESULT_INVALID_PARAMETER,
           "build after a refused setting");
    expect_finalized(&a, 1, "failed build");
    log_record_init(&a);
    builder = logging_builder(&a);
    expect(camb_client_builder_build(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
           "build(builder, NULL)");
    expect_finalized(&a, 1, "build(builder, NULL)");
    log_record_init(&a);
    builder = logging_builder(&a);
    expect(camb_client_builder_set_base_url(builder, "http://example.com/apis"), CAMB_RESULT_OK,
           "set_base_url(http://example.com)");
    expect(camb_client_builder_build(builder, &client), CAMB_RESULT_INVALID_PARAMETER,
           "build(plain http to a remote host)");
    expect_finalized(&a, 1, "build refused at build time");

    /* Replaced: the first's finalizer runs then; the second gets every line. */
    log_record_init(&a);
    log_record_init(&b);
    builder = logging_builder(&a);
    expect(camb_client_builder_set_log(builder, CAMB_LOG_LEVEL_DEBUG, on_log, &b,
                                       on_log_finalized),
           CAMB_RESULT_OK, "set_log (replacing)");
    expect_finalized(&a, 1, "replaced");
    expect_finalized(&b, 0, "the replacement, before the build");
    if (expect(camb_client_builder_build(builder, &client), CAMB_RESULT_OK, "build (logging)")) {
        expect_finalized(&b, 0, "the replacement, built");
        camb_task *task = NULL;
        expect(camb_client_get_task_status(client, "demo-success", NULL, &task), CAMB_RESULT_OK,
               "get_task_status (logging)");
        camb_task_free(task);
        CHECK(atomic_load(&b.lines) > 0 && atomic_load(&a.lines) == 0,
              "log lines: %u to the replaced function, %u to its replacement",
              atomic_load(&a.lines), atomic_load(&b.lines));
        camb_client_free(client);
        expect_finalized(&b, 1, "client freed");
        expect_finalized(&a, 1, "replaced, after the client was freed");
    }

    /* The client freed with jobs in flight (lines from its pool threads): the
     * finalizer runs once, before camb_client_free returns, after the last line;
     * the cancelled jobs are then delivered, read and freed without a line. */
    log_record_init(&a);
    builder = logging_builder(&a);
    client = NULL;
    camb_queue *queue = NULL;
    if (builder != NULL &&
        expect(camb_client_builder_build(builder, &client), CAMB_RESULT_OK, "build (logging)") &&
        expect(camb_queue_new(&queue), CAMB_RESULT_OK, "camb_queue_new")) {
        enum { LOGGED = 3 };
        struct job_want want[LOGGED];
        submit_slow_waits(client, queue, want, LOGGED);
        CHECK(atomic_load(&a.lines) > 0, "no log line from the jobs' polls");
        camb_client_free(client);
        client = NULL;
        expect_finalized(&a, 1, "client freed with jobs in flight");
        take_cancelled(queue, want, LOGGED, false, "jobs of a logging client freed");
        expect_finalized(&a, 1, "client freed with jobs in flight, jobs freed");
    }
    camb_queue_free(queue);
    camb_client_free(client);
}

/* A client for the jobs, with `threads` job threads. */
static camb_client *jobs_client(uint32_t threads) {
    camb_client_builder *builder = camb_client_builder_new();
    expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK, "set_api_key");
    expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK, "set_base_url");
    expect(camb_client_builder_set_timeout_ms(builder, TIMEOUT_MS), CAMB_RESULT_OK,
           "set_timeout_ms");
    expect(camb_client_builder_set_job_threads(builder, threads), CAMB_RESULT_OK,
           "set_job_threads");
    camb_client *client = NULL;
    if (!expect(camb_client_builder_build(builder, &client), CAMB_RESULT_OK, "build (jobs)")) {
        return NULL;
    }
    return client;
}

enum { TAKERS = 4, SHARED_COPIES = 3, SLOW = 4 };

static void jobs_round(int round) {
    /* set_job_threads' refusals first. */
    camb_client_builder *builder = camb_client_builder_new();
    expect(camb_client_builder_set_job_threads(NULL, 2), CAMB_RESULT_NULL_PARAMETER,
           "set_job_threads(NULL)");
    expect(camb_client_builder_set_job_threads(builder, 0), CAMB_RESULT_INVALID_PARAMETER,
           "set_job_threads(0)");
    camb_client_builder_free(builder); /* the refusal would fail its build */
    builder = camb_client_builder_new();
    expect(camb_client_builder_set_job_threads(builder, 65), CAMB_RESULT_INVALID_PARAMETER,
           "set_job_threads(65)");
    camb_client_builder_free(builder);

    log_finalizers();

    camb_client *client = jobs_client(3);
    if (client == NULL) {
        return;
    }
    camb_queue *queue = NULL;
    if (!expect(camb_queue_new(&queue), CAMB_RESULT_OK, "camb_queue_new")) {
        camb_client_free(client);
        return;
    }
    char tag[64];

    /* 1. Bad arguments; jobs never submitted, cancelled early, submitted twice. */
    bad_job_calls(client, queue);
    job_lives(client, queue);

    /* 2. camb_queue_wait's timeouts, and a thread woken by a job. */
    queue_waits(client, queue);

    /* 3. Every kind, taken by poll(2) on the readiness handle and camb_queue_pop. */
    struct job_want by_poll[JOB_CHECK_COUNT];
    snprintf(tag, sizeof tag, "r%d-poll", round);
    unsigned submitted = submit_every_kind(client, queue, by_poll, 1, tag);
    unsigned got = take_by_poll(queue, by_poll, JOB_CHECK_COUNT, submitted, JOB_TIMEOUT_MS);
    CHECK(got == JOB_CHECK_COUNT, "by poll: %u of %d jobs delivered", got, JOB_CHECK_COUNT);
    CHECK(!queue_readable(queue), "an emptied queue's readiness handle is readable");

    /* 4. Every kind, taken by camb_queue_wait on this thread. */
    struct job_want by_wait[JOB_CHECK_COUNT];
    snprintf(tag, sizeof tag, "r%d-wait", round);
    submitted = submit_every_kind(client, queue, by_wait, 1, tag);
    got = take_by_wait(queue, by_wait, JOB_CHECK_COUNT, submitted, JOB_TIMEOUT_MS);
    CHECK(got == JOB_CHECK_COUNT, "by wait: %u of %d jobs delivered", got, JOB_CHECK_COUNT);

    /* 5. One queue served by TAKERS threads in camb_queue_wait and this one popping;
     * each job delivered to exactly one of them, which checks and frees it. */
    enum { SHARED = JOB_CHECK_COUNT * SHARED_COPIES };
    struct job_want shared[SHARED];
    snprintf(tag, sizeof tag, "r%d-threads", round);
    submitted = submit_every_kind(client, queue, shared, SHARED_COPIES, tag);
    atomic_uint taken = 0;
    struct taker takers[TAKERS];
    pthread_t threads[TAKERS];
    int running = 0;
    for (int t = 0; t < TAKERS; t++) {
        takers[t] = (struct taker){queue, shared, SHARED, &taken, submitted, 0};
        if (pthread_create(&threads[t], NULL, taker_thread, &takers[t]) != 0) {
            CHECK(false, "cannot start a thread");
            break;
        }
        running++;
    }
    int64_t deadline = mono_ms() + JOB_TIMEOUT_MS;
    while (atomic_load(&taken) < submitted && mono_ms() < deadline) {
        camb_event event = SENTINEL_EVENT;
        camb_job *job = NULL;
        if (camb_queue_pop(queue, &event, &job) == CAMB_RESULT_OK) {
            atomic_fetch_add(&taken, take_delivered(event, job, shared, SHARED));
        } else {
            sleep_ms(1);
        }
    }
    for (int t = 0; t < running; t++) {
        pthread_join(threads[t], NULL);
    }
    CHECK(atomic_load(&taken) == SHARED, "threads: %u of %d jobs delivered", atomic_load(&taken),
          SHARED);

    /* 6. Cancelled while waiting between polls: delivered CANCELLED, once. */
    struct job_want slow[SLOW];
    submit_slow_waits(client, queue, slow, SLOW);
    for (int i = 0; i < SLOW; i++) {
        if (slow[i].job != NULL) {
            expect(camb_job_cancel(slow[i].job), CAMB_RESULT_OK, "camb_job_cancel (waiting)");
        }
    }
    take_cancelled(queue, slow, SLOW, false, "cancelled while waiting");

    /* 7. Freed in flight: that only cancels; each is delivered as usual, then freed.
     * Waits between polls, and status jobs freed right after their submit. */
    submit_slow_waits(client, queue, slow, SLOW);
    for (int i = 0; i < SLOW; i++) {
        camb_job_free(slow[i].job); /* in flight: a cancel */
    }
    take_cancelled(queue, slow, SLOW, false, "freed while waiting");
    struct job_want quick[SLOW];
    for (int i = 0; i < SLOW; i++) {
        quick[i].check = JOB_STATUS_SUCCESS;
        quick[i].job = NULL;
        atomic_store(&quick[i].delivered, false);
        camb_job *job = NULL;
        if (expect(make_job(client, &quick[i], "freed-at-once", &job), CAMB_RESULT_OK,
                   "job_get_task_status (freed at once)") &&
            expect(camb_job_submit(job, queue, &quick[i]), CAMB_RESULT_OK, "camb_job_submit")) {
            quick[i].job = job;
            camb_job_free(job); /* in flight: a cancel, whether it ran yet or not */
        }
    }
    take_cancelled(queue, quick, SLOW, true, "freed right after the submit");
    camb_event event = SENTINEL_EVENT;
    camb_job *job = SENTINEL_JOB;
    expect(camb_queue_pop(queue, &event, &job), CAMB_RESULT_NOT_READY, "pop after freed jobs");

    /* 8. A queue freed with jobs in flight: those cancelled first, and those left
     * waiting until the client is freed below, are freed by libcamb when they end;
     * a queue freed with delivered jobs on it frees them with it. */
    camb_queue *doomed = NULL;
    if (expect(camb_queue_new(&doomed), CAMB_RESULT_OK, "camb_queue_new")) {
        submit_slow_waits(client, doomed, slow, SLOW);
        for (int i = 0; i < SLOW / 2; i++) {
            if (slow[i].job != NULL) {
                expect(camb_job_cancel(slow[i].job), CAMB_RESULT_OK, "camb_job_cancel");
            }
        }
        camb_queue_free(doomed); /* the pointers in slow[] are not used again */
    }
    doomed = NULL;
    if (expect(camb_queue_new(&doomed), CAMB_RESULT_OK, "camb_queue_new")) {
        struct job_want left[JOB_CHECK_COUNT];
        snprintf(tag, sizeof tag, "r%d-left", round);
        submitted = submit_every_kind(client, doomed, left, 1, tag);
        for (int i = 0; i < JOB_CHECK_COUNT; i++) {
            if (left[i].job != NULL) {
                CHECK(job_reaches(left[i].job, CAMB_JOB_STATE_DONE, JOB_TIMEOUT_MS),
                      "job %s never finished", JOB_SPECS[left[i].check].name);
            }
        }
        CHECK(submitted == 0 || queue_readable(doomed), "a queue with jobs on it is not readable");
        camb_queue_free(doomed); /* with every job on it, never popped */
        for (int i = 0; i < JOB_CHECK_COUNT; i++) {
            if (left[i].path[0] != '\0') {
                unlink(left[i].path);
            }
        }
    }

    /* 9. A queue shared by two clients; then one of them freed with its jobs in
     * flight on it, while the other's wait goes on. */
    camb_client *other = jobs_client(2);
    if (other != NULL) {
        struct job_want mine[JOB_CHECK_COUNT], theirs[JOB_CHECK_COUNT];
        snprintf(tag, sizeof tag, "r%d-mine", round);
        submitted = submit_every_kind(client, queue, mine, 1, tag);
        snprintf(tag, sizeof tag, "r%d-theirs", round);
        unsigned submitted_other = submit_every_kind(other, queue, theirs, 1, tag);
        unsigned got_mine = 0, got_theirs = 0;
        deadline = mono_ms() + JOB_TIMEOUT_MS;
        while (got_mine + got_theirs < submitted + submitted_other && mono_ms() < deadline) {
            event = SENTINEL_EVENT;
            job = NULL;
            if (camb_queue_wait(queue, 100, &event, &job) != CAMB_RESULT_OK) {
                continue;
            }
            struct job_want *w = camb_job_user_data(job);
            if (w >= theirs && w < theirs + JOB_CHECK_COUNT) {
                got_theirs += take_delivered(event, job, theirs, JOB_CHECK_COUNT);
            } else {
                got_mine += take_delivered(event, job, mine, JOB_CHECK_COUNT);
            }
        }
        CHECK(got_mine == JOB_CHECK_COUNT && got_theirs == JOB_CHECK_COUNT,
              "a queue of two clients: %u and %u of %d jobs delivered", got_mine, got_theirs,
              JOB_CHECK_COUNT);

        struct job_want mine_slow[1], theirs_slow[SLOW];
        submit_slow_waits(client, queue, mine_slow, 1);
        submit_slow_waits(other, queue, theirs_slow, SLOW);
        camb_client_free(other);
        /* Every job of the freed client is on the queue by now, cancelled. */
        take_cancelled(queue, theirs_slow, SLOW, false, "the other client freed");
        CHECK(mine_slow[0].job == NULL || camb_job_get_state(mine_slow[0].job) ==
                                              CAMB_JOB_STATE_WAITING,
              "freeing a client ended another client's job");
        if (mine_slow[0].job != NULL) {
            camb_job_cancel(mine_slow[0].job);
        }
        take_cancelled(queue, mine_slow, 1, false, "a job left on the shared queue");
    }

    /* 10. The client freed with jobs in flight: waits between polls, a generation
     * waiting for a task that never ends, status jobs. Each is on the queue,
     * CANCELLED (a status job may have finished first), when camb_client_free
     * returns. A job made and never submitted can no longer be. */
    enum { ORPHANS = SLOW + 4 };
    struct job_want orphans[ORPHANS];
    submit_slow_waits(client, queue, orphans, SLOW);
    camb_wait_options quick_poll = quick_wait(600000);
    orphans[SLOW].check = JOB_GENERATE;
    orphans[SLOW].job = NULL;
    atomic_store(&orphans[SLOW].delivered, false);
    snprintf(orphans[SLOW].path, sizeof orphans[SLOW].path, "/tmp/camb-stress-%ld-r%d-orphan.wav",
             (long)getpid(), round);
    job = NULL;
    if (expect(camb_client_job_generate(client, "stress jobs: never ready [pending_ms:600000]",
                                        NULL, &quick_poll, orphans[SLOW].path, &job),
               CAMB_RESULT_OK, "job_generate (never ready)") &&
        expect(camb_job_submit(job, queue, &orphans[SLOW]), CAMB_RESULT_OK, "camb_job_submit")) {
        orphans[SLOW].job = job;
        int64_t until = mono_ms() + JOB_TIMEOUT_MS;
        while (camb_job_polls(job) < 1 && mono_ms() < until) {
            sleep_ms(2);
        }
        CHECK(camb_job_polls(job) >= 1, "the generation never polled before its client was freed");
    }
    for (int i = SLOW + 1; i < ORPHANS; i++) {
        orphans[i].check = JOB_STATUS_SUCCESS;
        orphans[i].job = NULL;
        atomic_store(&orphans[i].delivered, false);
        job = NULL;
        if (expect(make_job(client, &orphans[i], "orphan", &job), CAMB_RESULT_OK,
                   "job_get_task_status (client to be freed)") &&
            expect(camb_job_submit(job, queue, &orphans[i]), CAMB_RESULT_OK, "camb_job_submit")) {
            orphans[i].job = job;
        }
    }
    camb_job *unsubmitted = NULL;
    expect(camb_client_job_get_task_status(client, "demo-success", &unsubmitted), CAMB_RESULT_OK,
           "job_get_task_status (never submitted, client to be freed)");
    camb_client_free(client);
    client = NULL;
    /* Already there: every pop is immediate. */
    unsigned there = 0;
    for (int i = 0; i < ORPHANS; i++) {
        there += orphans[i].job != NULL;
    }
    unsigned popped = 0;
    for (unsigned i = 0; i < there; i++) {
        event = SENTINEL_EVENT;
        job = NULL;
        if (camb_queue_pop(queue, &event, &job) != CAMB_RESULT_OK) {
            break;
        }
        struct job_want *w = camb_job_user_data(job);
        bool ours = event == CAMB_EVENT_JOB_DONE && w >= orphans && w < orphans + ORPHANS &&
                    w->job == job && !atomic_exchange(&w->delivered, true);
        CHECK(ours, "client freed: the queue gave a job that was not submitted to it, or twice");
        if (!ours) {
            continue;
        }
        camb_result r = camb_job_result(job);
        CHECK(r == CAMB_RESULT_CANCELLED || (w->check == JOB_STATUS_SUCCESS && r == CAMB_RESULT_OK),
              "client freed: job %s is %s", JOB_SPECS[w->check].name, camb_result_name(r));
        camb_job_free(job);
        popped++;
    }
    CHECK(popped == there, "client freed: %u of %u jobs on the queue when it returned", popped,
          there);
    struct stat st;
    CHECK(stat(orphans[SLOW].path, &st) != 0, "a cancelled generation left %s",
          orphans[SLOW].path);
    if (unsubmitted != NULL) {
        expect(camb_job_submit(unsubmitted, queue, NULL), CAMB_RESULT_INVALID_PARAMETER,
               "camb_job_submit after its client was freed");
        CHECK(camb_job_get_state(unsubmitted) == CAMB_JOB_STATE_NEW,
              "a refused submit changed the job");
        camb_job_free(unsubmitted); /* the client's memory goes with it */
    }
    event = SENTINEL_EVENT;
    job = SENTINEL_JOB;
    expect(camb_queue_pop(queue, &event, &job), CAMB_RESULT_NOT_READY,
           "pop of the emptied queue");
    CHECK(!queue_readable(queue), "an emptied queue's readiness handle is readable");
    camb_queue_free(queue);
}

/* ---------------------------------------------------------------- phase 2 */

struct worker {
    int index;
    int calls;
    const camb_client *client;
    pthread_barrier_t *start;
    unsigned long ok;
    unsigned long not_found;
    unsigned long other;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    /* This thread's last demo-unknown task, kept across its later calls (and every
     * other thread's) until the next one replaces it: its strings must not change. */
    camb_task *kept = NULL;
    for (int i = 0; i < w->calls; i++) {
        enum task_kind kind = (enum task_kind)((w->index + i) % KIND_COUNT);
        char missing[64];
        snprintf(missing, sizeof missing, "stress-missing-t%d-c%d", w->index, i);
        camb_task *task = NULL;
        camb_result r = checked_status_call(w->client, kind, missing, &task);
        if (r == CAMB_RESULT_OK) {
            w->ok++;
        } else if (r == CAMB_RESULT_NOT_FOUND) {
            w->not_found++;
        } else {
            w->other++;
        }
        if (kept != NULL) {
            size_t len = 0;
            const char *text = camb_task_status_text(kept, &len);
            CHECK(same_text(text, len, "QUEUED_FOR_GPU") &&
                      same_text(camb_task_id(kept, NULL), strlen("demo-unknown"), "demo-unknown"),
                  "thread %d: a kept task's strings changed after a later %s call", w->index,
                  camb_result_name(r));
        }
        if (kind == KIND_UNKNOWN && task != NULL) {
            camb_task_free(kept);
            kept = task;
        } else {
            camb_task_free(task);
        }
    }
    camb_task_free(kept);
    return NULL;
}

static void phase2(int threads, int calls, unsigned long *ok, unsigned long *not_found,
                   unsigned long *other) {
    camb_client *client = emulator_client();
    if (client == NULL) {
        return;
    }
    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    pthread_barrier_t start;
    if (workers == NULL || ids == NULL || pthread_barrier_init(&start, NULL, (unsigned)threads)) {
        CHECK(false, "phase 2: out of memory");
        free(workers);
        free(ids);
        camb_client_free(client);
        return;
    }
    int started = 0;
    for (int t = 0; t < threads; t++) {
        workers[t] = (struct worker){t, calls, client, &start, 0, 0, 0};
        if (pthread_create(&ids[t], NULL, worker_main, &workers[t]) != 0) {
            CHECK(false, "phase 2: cannot start thread %d", t);
            break;
        }
        started++;
    }
    if (started < threads) {
        /* The barrier would never open; nothing sensible is left to do. */
        fprintf(stderr, "stress: could only start %d of %d threads\n", started, threads);
        exit(2);
    }
    for (int t = 0; t < started; t++) {
        pthread_join(ids[t], NULL);
        *ok += workers[t].ok;
        *not_found += workers[t].not_found;
        *other += workers[t].other;
    }
    pthread_barrier_destroy(&start);
    free(workers);
    free(ids);
    camb_client_free(client);
}

/* ---------------------------------------------------------------- main */

static int parse_count(const char *flag, const char *text, int min) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > 10000000) {
        fprintf(stderr, "stress: %s needs a number >= %d, not \"%s\"\n", flag, min, text);
        exit(2);
    }
    return (int)value;
}

int main(int argc, char **argv) {
    int threads = 8, calls = 200, clients = 100, workflows = 2;
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: %s BASE_URL [--threads N] [--calls N] [--clients N] [--workflows N]\n"
                "(the API key is read from CAMB_API_KEY)\n",
                argv[0]);
        return 2;
    }
    g_base_url = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "stress: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--threads") == 0) {
            threads = parse_count(argv[i], argv[i + 1], 1);
        } else if (strcmp(argv[i], "--calls") == 0) {
            calls = parse_count(argv[i], argv[i + 1], 0);
        } else if (strcmp(argv[i], "--clients") == 0) {
            clients = parse_count(argv[i], argv[i + 1], 0);
        } else if (strcmp(argv[i], "--workflows") == 0) {
            workflows = parse_count(argv[i], argv[i + 1], 0);
        } else {
            fprintf(stderr, "stress: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    g_api_key = getenv("CAMB_API_KEY");
    if (g_api_key == NULL || g_api_key[0] == '\0') {
        fprintf(stderr, "stress: set CAMB_API_KEY (camb-emulator-key for the emulator)\n");
        return 2;
    }
    memset(g_long_id, 'a', sizeof g_long_id - 1);
    memset(g_max_id, 'b', sizeof g_max_id - 1);

    /* The demo tasks are PENDING for the emulator's --pending-ms after it starts. */
    camb_client *setup = emulator_client();
    if (setup == NULL) {
        fprintf(stderr, "stress: cannot build a client for %s\n", g_base_url);
        return 2;
    }
    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    wait.initial_interval_ms = wait.max_interval_ms = 100;
    for (int kind = 0; kind < KIND_MISSING; kind++) {
        camb_task *task = NULL;
        camb_result r = camb_client_wait_for_task(setup, kind_id((enum task_kind)kind), &wait,
                                                  NULL, NULL, NULL, &task);
        camb_task_free(task);
        if (r != CAMB_RESULT_OK) {
            fprintf(stderr, "stress: the emulator's %s is not ready: %s: %s\n",
                    kind_id((enum task_kind)kind), camb_result_name(r), camb_last_error());
            camb_client_free(setup);
            return 2;
        }
    }
    camb_client_free(setup);

    phase1(clients);
    unsigned long checks_phase1 = atomic_load(&g_checks);
    for (int round = 0; round < workflows; round++) {
        workflow(round);
    }
    unsigned long checks_workflow = atomic_load(&g_checks) - checks_phase1;
    for (int round = 0; round < workflows; round++) {
        jobs_round(round);
    }
    unsigned long checks_jobs = atomic_load(&g_checks) - checks_phase1 - checks_workflow;
    unsigned long ok = 0, not_found = 0, other = 0;
    if (calls > 0) {
        phase2(threads, calls, &ok, &not_found, &other);
    }
    unsigned long checks_phase2 =
        atomic_load(&g_checks) - checks_phase1 - checks_workflow - checks_jobs;
    unsigned long failures = atomic_load(&g_failures);

    printf("stress: phase1 clients=%d checks=%lu | workflow rounds=%d checks=%lu | jobs rounds=%d "
           "checks=%lu | phase2 threads=%d calls=%lu ok=%lu not_found=%lu other=%lu checks=%lu | "
           "failures=%lu: %s\n",
           clients, checks_phase1, workflows, checks_workflow, workflows, checks_jobs, threads,
           (unsigned long)threads * (unsigned long)calls, ok, not_found, other, checks_phase2,
           failures, failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
