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
 * Phase 1 (--clients N iterations, default 100), one thread: each iteration
 *   - builds a client with the builder (every setter), checks that the spent
 *     builder refuses every further call, makes one status call (rotating over
 *     demo-success, demo-error, demo-unknown and a missing id) and frees it;
 *   - creates and frees clients with camb_client_new (explicit key and
 *     CAMB_API_KEY; their default base URL is the real API, so they make no call);
 *   - frees a builder without building it, and checks the freed builder is refused;
 *   - calls every function with bad input (NULL in each pointer, invalid UTF-8,
 *     empty, oversized and out-of-range values) and checks the documented code,
 *     that out-parameters are left unchanged on failure, and camb_last_error() /
 *     camb_last_http_status() after every call.
 *   Once: CAMB_API_KEY unset (MISSING_API_KEY) and unusable (INVALID_PARAMETER).
 * Workflow (--workflows N rounds, default 2): create a task, wait for it with a
 *   progress callback, download its audio (whole, stopped by the callback,
 *   cancelled by a token), ask for its URL (size query, then the URL), ask for
 *   many URLs at once, save it to a file; a wait that times out and one that is
 *   cancelled; a run that did not succeed and one that does not exist.
 * Phase 2: --threads N threads (default 8) share ONE client and make --calls N
 *   status calls each (default 200), rotating over demo-success, demo-error,
 *   demo-unknown and an id unique to the thread and call (404). Each result is
 *   checked, and each thread's camb_last_error() must describe its own last call
 *   (a success: ""; a 404: the message names this thread's own id). The strings
 *   of a thread's last success must survive its later failures.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static bool same_text(const char *text, size_t len, const char *want) {
    return text != NULL && len == strlen(want) && memcmp(text, want, len) == 0 && text[len] == '\0';
}

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

    /* The builder is spent: every call on it is refused, and freeing it is a no-op.
     * (No builder is created before these calls, so its address cannot be reused.) */
    expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_INVALID_PARAMETER,
           "set_api_key on a built builder");
    expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_INVALID_PARAMETER,
           "set_base_url on a built builder");
    expect(camb_client_builder_set_timeout_ms(builder, 1000), CAMB_RESULT_INVALID_PARAMETER,
           "set_timeout_ms on a built builder");
    expect(camb_client_builder_set_max_retries(builder, 1), CAMB_RESULT_INVALID_PARAMETER,
           "set_max_retries on a built builder");
    expect(camb_client_builder_set_allow_insecure_http(builder, true),
           CAMB_RESULT_INVALID_PARAMETER, "set_allow_insecure_http on a built builder");
    camb_client *second = NULL;
    expect(camb_client_builder_build(builder, &second), CAMB_RESULT_INVALID_PARAMETER,
           "build of a built builder");
    CHECK(second == NULL, "a refused build wrote its out-parameter");
    camb_client_builder_free(builder);
    return client;
}

/* ---------------------------------------------------------------- status calls */

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

/*
 * One status call of `kind` (for KIND_MISSING, `missing_id`), checked in full,
 * including this thread's last error. Returns the result.
 */
static camb_result checked_status_call(const camb_client *client, enum task_kind kind,
                                       const char *missing_id, camb_task_info *info) {
    const char *id = kind == KIND_MISSING ? missing_id : kind_id(kind);
    camb_task_info before;
    memset(info, 0xA5, sizeof *info);
    memcpy(&before, info, sizeof before);
    camb_result r = camb_client_get_task_status(client, id, info);
    char what[160];
    snprintf(what, sizeof what, "get_task_status(%s)", id);
    const char *error = camb_last_error();

    switch (kind) {
    case KIND_SUCCESS:
        if (expect(r, CAMB_RESULT_OK, what)) {
            CHECK(info->status == CAMB_STATUS_SUCCESS && info->has_run_id && info->run_id == 4242,
                  "%s: status %s run %" PRId64, id, camb_status_name(info->status), info->run_id);
            CHECK(same_text(info->status_text, info->status_text_len, "SUCCESS"),
                  "%s: status_text", id);
            CHECK(info->exception_reason == NULL && info->exception_reason_len == 0 &&
                      info->message == NULL && info->message_len == 0,
                  "%s: unexpected reason or message", id);
        }
        break;
    case KIND_ERROR:
        if (expect(r, CAMB_RESULT_OK, what)) {
            CHECK(info->status == CAMB_STATUS_ERROR && info->has_run_id && info->run_id == 4243,
                  "%s: status %s run %" PRId64, id, camb_status_name(info->status), info->run_id);
            CHECK(same_text(info->status_text, info->status_text_len, "ERROR"), "%s: status_text",
                  id);
            CHECK(same_text(info->exception_reason, info->exception_reason_len,
                            "PROCESSING_ERROR"),
                  "%s: exception_reason", id);
            CHECK(same_text(info->message, info->message_len,
                            "The audio model failed to render this prompt"),
                  "%s: message", id);
        }
        break;
    case KIND_UNKNOWN:
        if (expect(r, CAMB_RESULT_OK, what)) {
            CHECK(info->status == CAMB_STATUS_UNKNOWN && !info->has_run_id,
                  "%s: status %s has_run_id %d", id, camb_status_name(info->status),
                  (int)info->has_run_id);
            CHECK(same_text(info->status_text, info->status_text_len, "QUEUED_FOR_GPU"),
                  "%s: status_text", id);
            CHECK(info->exception_reason == NULL && info->message == NULL,
                  "%s: unexpected reason or message", id);
        }
        break;
    default:
        if (expect_http(r, CAMB_RESULT_NOT_FOUND, 404, what)) {
            /* The message is this thread's own: it names this call's unique id. */
            CHECK(strstr(error, "404") != NULL && strstr(error, id) != NULL,
                  "%s: camb_last_error() is not this call's: \"%s\"", id, error);
            CHECK(memcmp(info, &before, sizeof before) == 0,
                  "%s: a failed call wrote its out-parameter", id);
        }
        break;
    }
    return r;
}

/* ---------------------------------------------------------------- phase 1 */

static char g_long_id[1026];   /* 1025 bytes: one over the limit */
static char g_max_id[1025];    /* 1024 bytes: the longest valid id */

/* Every function with bad input; nothing here reaches the network but the max-length id. */
static void bad_inputs(const camb_client *client) {
    camb_task_info info;
    memset(&info, 0x5A, sizeof info);
    camb_task_info untouched;
    memcpy(&untouched, &info, sizeof untouched);

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
    camb_client *out = NULL;
    expect(camb_client_builder_build(NULL, &out), CAMB_RESULT_NULL_PARAMETER, "build(NULL)");
    CHECK(out == NULL, "build(NULL) wrote its out-parameter");
    camb_client_builder_free(NULL);

    camb_client_builder *builder = camb_client_builder_new();
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
        /* A plain-http URL to a host that is not loopback: refused by build. */
        expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
               "set_api_key");
        expect(camb_client_builder_set_base_url(builder, "http://example.com/apis"),
               CAMB_RESULT_OK, "set_base_url(http://example.com)");
        expect(camb_client_builder_build(builder, &out), CAMB_RESULT_INVALID_PARAMETER,
               "build(plain http to a remote host)");
        CHECK(out == NULL, "a failed build wrote its out-parameter");
        /* build consumed it even though it failed */
        expect(camb_client_builder_set_api_key(builder, g_api_key),
               CAMB_RESULT_INVALID_PARAMETER, "set_api_key after a failed build");
        camb_client_builder_free(builder);
    }

    builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new returned NULL");
    if (builder != NULL) {
        expect(camb_client_builder_build(builder, NULL), CAMB_RESULT_NULL_PARAMETER,
               "build(builder, NULL)");
        /* "a non-NULL builder is still consumed" */
        expect(camb_client_builder_set_timeout_ms(builder, 1000), CAMB_RESULT_INVALID_PARAMETER,
               "set_timeout_ms after build(builder, NULL)");
        camb_client_builder_free(builder);
    }

    /* camb_client_new */
    expect(camb_client_new(g_api_key, NULL), CAMB_RESULT_NULL_PARAMETER, "client_new(key, NULL)");
    expect(camb_client_new("\xff", &out), CAMB_RESULT_INVALID_PARAMETER,
           "client_new(invalid UTF-8)");
    expect(camb_client_new("", &out), CAMB_RESULT_INVALID_PARAMETER, "client_new(empty key)");
    expect(camb_client_new("tab\tkey", &out), CAMB_RESULT_INVALID_PARAMETER,
           "client_new(control character)");
    CHECK(out == NULL, "a failed camb_client_new wrote its out-parameter");
    camb_client_free(NULL);

    /* Status calls. */
    expect(camb_client_get_task_status(NULL, "demo-success", &info), CAMB_RESULT_NULL_PARAMETER,
           "get_task_status(NULL client)");
    expect(camb_client_get_task_status(client, NULL, &info), CAMB_RESULT_NULL_PARAMETER,
           "get_task_status(NULL id)");
    expect(camb_client_get_task_status(client, "demo-success", NULL), CAMB_RESULT_NULL_PARAMETER,
           "get_task_status(NULL out)");
    expect(camb_client_get_task_status(client, "demo-\xff", &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(invalid UTF-8)");
    expect(camb_client_get_task_status(client, "\xc3", &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(truncated UTF-8)");
    expect(camb_client_get_task_status(client, "", &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(empty id)");
    expect(camb_client_get_task_status(client, ".", &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(.)");
    expect(camb_client_get_task_status(client, "..", &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(..)");
    expect(camb_client_get_task_status(client, g_long_id, &info), CAMB_RESULT_INVALID_PARAMETER,
           "get_task_status(1025-byte id)");
    CHECK(memcmp(&info, &untouched, sizeof info) == 0,
          "a refused get_task_status wrote its out-parameter");
    /* Long valid ids reach the server: the emulator (like FastAPI) refuses ids over
     * 256 characters with a 422, and knows no task with a 256-character one. */
    expect_http(camb_client_get_task_status(client, g_max_id, &info), CAMB_RESULT_VALIDATION, 422,
                "get_task_status(1024-byte id)");
    expect_http(camb_client_get_task_status(client, g_max_id + (sizeof g_max_id - 257), &info),
                CAMB_RESULT_NOT_FOUND, 404, "get_task_status(256-byte id)");

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

    /* Create: refused before anything is sent. */
    char task_id[CAMB_TASK_ID_BUFFER_SIZE];
    strcpy(task_id, "untouched");
    camb_create_options options = camb_create_options_default();
    expect(camb_client_create_task(NULL, "rain", NULL, task_id, sizeof task_id),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL client)");
    expect(camb_client_create_task(client, NULL, NULL, task_id, sizeof task_id),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL prompt)");
    expect(camb_client_create_task(client, "rain", NULL, NULL, sizeof task_id),
           CAMB_RESULT_NULL_PARAMETER, "create_task(NULL out)");
    expect(camb_client_create_task(client, "", NULL, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(empty prompt)");
    expect(camb_client_create_task(client, "r\xff", NULL, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(invalid UTF-8)");
    expect(camb_client_create_task(client, "rain", NULL, task_id, CAMB_TASK_ID_BUFFER_SIZE - 1),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(small buffer)");
    options.audio_type = 99;
    expect(camb_client_create_task(client, "rain", &options, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(audio_type 99)");
    options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 11.0;
    expect(camb_client_create_task(client, "rain", &options, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(11 s of sound)");
    options.duration_s = -1.0;
    expect(camb_client_create_task(client, "rain", &options, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(negative duration)");
    options = camb_create_options_default();
    options.project_name = "\xff";
    expect(camb_client_create_task(client, "rain", &options, task_id, sizeof task_id),
           CAMB_RESULT_INVALID_PARAMETER, "create_task(project_name invalid UTF-8)");
    CHECK(strcmp(task_id, "untouched") == 0, "a refused create_task wrote its out-parameter");

    /* Wait: bad arguments and options. */
    camb_wait_options wait = camb_wait_options_default();
    expect(camb_client_wait_for_task(NULL, "demo-success", &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL client)");
    expect(camb_client_wait_for_task(client, NULL, &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL id)");
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, NULL),
           CAMB_RESULT_NULL_PARAMETER, "wait_for_task(NULL out)");
    expect(camb_client_wait_for_task(client, "..", &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(..)");
    wait.initial_interval_ms = 0;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(initial interval 0)");
    wait = camb_wait_options_default();
    wait.backoff_factor = 0.5;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(backoff 0.5)");
    wait = camb_wait_options_default();
    wait.deadline_ms = 0;
    expect(camb_client_wait_for_task(client, "demo-success", &wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_INVALID_PARAMETER, "wait_for_task(deadline 0)");
    CHECK(memcmp(&info, &untouched, sizeof info) == 0,
          "a refused wait_for_task wrote its out-parameter");

    /* Results: bad arguments. */
    uint64_t bytes = 777;
    size_t len = 777;
    expect(camb_client_download_result(NULL, 4242, NULL, NULL, NULL, &bytes),
           CAMB_RESULT_NULL_PARAMETER, "download_result(NULL client)");
    expect(camb_client_download_result(client, 4242, NULL, NULL, NULL, &bytes),
           CAMB_RESULT_NULL_PARAMETER, "download_result(NULL write)");
    expect(camb_client_save_result(client, 4242, NULL, NULL, &bytes), CAMB_RESULT_NULL_PARAMETER,
           "save_result(NULL path)");
    expect(camb_client_save_result(client, 4242, "", NULL, &bytes), CAMB_RESULT_INVALID_PARAMETER,
           "save_result(empty path)");
    CHECK(bytes == 777, "a refused download wrote its out-parameter");
    expect(camb_client_get_result_url(NULL, 4242, NULL, 0, &len), CAMB_RESULT_NULL_PARAMETER,
           "get_result_url(NULL client)");
    expect(camb_client_get_result_url(client, 4242, NULL, 5, &len), CAMB_RESULT_NULL_PARAMETER,
           "get_result_url(NULL buffer, size 5)");
    CHECK(len == 777, "a refused get_result_url wrote its out-parameter");
    static int64_t many_ids[1001];
    camb_result_url urls[2];
    memset(urls, 0x5A, sizeof urls);
    camb_result_url urls_before[2];
    memcpy(urls_before, urls, sizeof urls);
    expect(camb_client_get_result_urls(NULL, many_ids, 1, urls), CAMB_RESULT_NULL_PARAMETER,
           "get_result_urls(NULL client)");
    expect(camb_client_get_result_urls(client, NULL, 1, urls), CAMB_RESULT_NULL_PARAMETER,
           "get_result_urls(NULL ids)");
    expect(camb_client_get_result_urls(client, many_ids, 1, NULL), CAMB_RESULT_NULL_PARAMETER,
           "get_result_urls(NULL out)");
    expect(camb_client_get_result_urls(client, many_ids, 0, urls), CAMB_RESULT_INVALID_PARAMETER,
           "get_result_urls(count 0)");
    /* count 1001 with 1001 readable ids (only 2 writable entries: it must refuse first) */
    expect(camb_client_get_result_urls(client, many_ids, 1001, urls),
           CAMB_RESULT_INVALID_PARAMETER, "get_result_urls(count 1001)");
    CHECK(memcmp(urls, urls_before, sizeof urls) == 0,
          "a refused get_result_urls wrote its out-parameter");
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
        /* A client from the builder, one status call, free. */
        camb_client *client = emulator_client();
        if (client != NULL) {
            char missing[64];
            snprintf(missing, sizeof missing, "stress-missing-p1-%d", i);
            camb_task_info info;
            checked_status_call(client, (enum task_kind)(i % KIND_COUNT), missing, &info);
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

        /* A builder freed without build; then it is refused like a built one. */
        camb_client_builder *builder = camb_client_builder_new();
        CHECK(builder != NULL, "camb_client_builder_new returned NULL");
        if (builder != NULL) {
            expect(camb_client_builder_set_api_key(builder, g_api_key), CAMB_RESULT_OK,
                   "set_api_key");
            expect(camb_client_builder_set_base_url(builder, g_base_url), CAMB_RESULT_OK,
                   "set_base_url");
            camb_client_builder_free(builder);
            expect(camb_client_builder_set_api_key(builder, g_api_key),
                   CAMB_RESULT_INVALID_PARAMETER, "set_api_key on a freed builder");
            camb_client *never = NULL;
            expect(camb_client_builder_build(builder, &never), CAMB_RESULT_INVALID_PARAMETER,
                   "build of a freed builder");
            CHECK(never == NULL, "build of a freed builder wrote its out-parameter");
            camb_client_builder_free(builder); /* a second free is ignored */
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

static void workflow(int round) {
    camb_client *client = emulator_client();
    if (client == NULL) {
        return;
    }
    camb_cancel_token *token = camb_cancel_token_new();
    CHECK(token != NULL, "camb_cancel_token_new returned NULL");

    /* create, wait (with progress), download, URL, URLs, save */
    char task_id[CAMB_TASK_ID_BUFFER_SIZE];
    camb_create_options options = camb_create_options_default();
    options.audio_type = CAMB_AUDIO_TYPE_SOUND;
    options.duration_s = 1.0;
    options.project_name = "stress";
    char prompt[80];
    snprintf(prompt, sizeof prompt, "stress round %d: rain on a tin roof [pending_ms:30]", round);
    if (!expect(camb_client_create_task(client, prompt, &options, task_id, sizeof task_id),
                CAMB_RESULT_OK, "create_task")) {
        camb_cancel_token_free(token);
        camb_client_free(client);
        return;
    }
    CHECK(task_id[0] != '\0' && strlen(task_id) < CAMB_TASK_ID_BUFFER_SIZE, "create_task: id");

    camb_wait_options wait = quick_wait(TIMEOUT_MS);
    struct progress_log log = {0, false, false};
    camb_task_info info;
    if (expect(camb_client_wait_for_task(client, task_id, &wait, token, on_progress, &log, &info),
               CAMB_RESULT_OK, "wait_for_task")) {
        CHECK(info.status == CAMB_STATUS_SUCCESS && info.has_run_id,
              "wait_for_task: status %s", camb_status_name(info.status));
        CHECK(log.polls >= 1 && log.done_seen, "wait_for_task: %u progress calls, done %d",
              log.polls, (int)log.done_seen);
    }
    int64_t run_id = info.has_run_id ? info.run_id : 4242;

    struct sink sink = {0, {0}, 0};
    uint64_t bytes = 0;
    if (expect(camb_client_download_result(client, run_id, token, on_chunk, &sink, &bytes),
               CAMB_RESULT_OK, "download_result")) {
        CHECK(bytes == sink.total && bytes > 44 && memcmp(sink.head, "RIFF", 4) == 0,
              "download_result: %" PRIu64 " bytes reported, %" PRIu64 " received", bytes,
              sink.total);
    }
    struct sink stopper = {0, {0}, 1};
    expect(camb_client_download_result(client, run_id, NULL, on_chunk, &stopper, NULL),
           CAMB_RESULT_CANCELLED, "download_result stopped by its callback");
    expect(camb_cancel_token_cancel(token), CAMB_RESULT_OK, "cancel");
    struct sink unused = {0, {0}, 0};
    expect(camb_client_download_result(client, run_id, token, on_chunk, &unused, NULL),
           CAMB_RESULT_CANCELLED, "download_result with a cancelled token");
    CHECK(unused.total == 0, "a cancelled download delivered bytes");
    log = (struct progress_log){0, false, false};
    expect(camb_client_wait_for_task(client, "demo-pending", &wait, token, on_progress, &log,
                                     &info),
           CAMB_RESULT_CANCELLED, "wait_for_task with a cancelled token");
    expect(camb_cancel_token_reset(token), CAMB_RESULT_OK, "reset");
    log = (struct progress_log){0, false, true};
    expect(camb_client_wait_for_task(client, "demo-pending", &wait, token, on_progress, &log,
                                     &info),
           CAMB_RESULT_CANCELLED, "wait_for_task stopped by its callback");
    camb_wait_options short_wait = quick_wait(100);
    expect(camb_client_wait_for_task(client, "demo-pending", &short_wait, NULL, NULL, NULL, &info),
           CAMB_RESULT_TIMEOUT, "wait_for_task(demo-pending, 100 ms)");

    size_t len = 0;
    if (expect(camb_client_get_result_url(client, run_id, NULL, 0, &len),
               CAMB_RESULT_BUFFER_TOO_SMALL, "get_result_url(size query)")) {
        CHECK(len > 0, "get_result_url: length 0");
        char *url = malloc(len + 1);
        if (url != NULL) {
            size_t got = 0;
            expect(camb_client_get_result_url(client, run_id, url, len, &got),
                   CAMB_RESULT_BUFFER_TOO_SMALL, "get_result_url(no room for the NUL)");
            if (expect(camb_client_get_result_url(client, run_id, url, len + 1, &got),
                       CAMB_RESULT_OK, "get_result_url")) {
                CHECK(got == len && strlen(url) == len && strncmp(url, "http", 4) == 0,
                      "get_result_url: \"%s\"", url);
            }
            free(url);
        }
    }

    int64_t ids[3] = {run_id, 4242, 987654321};
    camb_result_url urls[3];
    if (expect(camb_client_get_result_urls(client, ids, 3, urls), CAMB_RESULT_OK,
               "get_result_urls")) {
        for (int i = 0; i < 3; i++) {
            CHECK(urls[i].run_id == ids[i], "get_result_urls: entry %d run id", i);
        }
        CHECK(urls[0].url != NULL && strlen(urls[0].url) == urls[0].url_len,
              "get_result_urls: entry 0");
        CHECK(urls[1].url != NULL && strlen(urls[1].url) == urls[1].url_len,
              "get_result_urls: entry 1");
        CHECK(urls[2].url == NULL && urls[2].url_len == 0, "get_result_urls: unknown run");
    }

    char path[128];
    snprintf(path, sizeof path, "/tmp/camb-stress-%ld-%d.wav", (long)getpid(), round);
    bytes = 0;
    if (expect(camb_client_save_result(client, run_id, path, NULL, &bytes), CAMB_RESULT_OK,
               "save_result")) {
        struct stat st;
        CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == bytes && bytes == sink.total,
              "save_result: %" PRIu64 " bytes", bytes);
    }
    unlink(path);

    /* A task that fails, a run that did not succeed, a run that does not exist. */
    snprintf(prompt, sizeof prompt, "stress round %d [status:ERROR] [pending_ms:0]", round);
    if (expect(camb_client_create_task(client, prompt, NULL, task_id, sizeof task_id),
               CAMB_RESULT_OK, "create_task([status:ERROR])")) {
        if (expect(camb_client_wait_for_task(client, task_id, &wait, NULL, NULL, NULL, &info),
                   CAMB_RESULT_OK, "wait_for_task([status:ERROR])")) {
            CHECK(info.status == CAMB_STATUS_ERROR, "wait_for_task([status:ERROR]): %s",
                  camb_status_name(info.status));
        }
    }
    expect_http(camb_client_download_result(client, 4243, NULL, on_chunk, &unused, NULL),
                CAMB_RESULT_HTTP_STATUS, 400, "download_result(run of demo-error)");
    expect_http(camb_client_download_result(client, 987654321, NULL, on_chunk, &unused, NULL),
                CAMB_RESULT_NOT_FOUND, 404, "download_result(no such run)");
    expect_http(camb_client_get_result_url(client, 987654321, NULL, 0, &len),
                CAMB_RESULT_NOT_FOUND, 404, "get_result_url(no such run)");

    camb_cancel_token_free(token);
    camb_client_free(client);
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
    /* The strings of this thread's last demo-unknown reply, which stay valid until
     * its next successful status call. */
    const char *kept_text = NULL;
    size_t kept_len = 0;
    for (int i = 0; i < w->calls; i++) {
        enum task_kind kind = (enum task_kind)((w->index + i) % KIND_COUNT);
        char missing[64];
        snprintf(missing, sizeof missing, "stress-missing-t%d-c%d", w->index, i);
        camb_task_info info;
        camb_result r = checked_status_call(w->client, kind, missing, &info);
        if (r == CAMB_RESULT_OK) {
            w->ok++;
            kept_text = NULL;
            if (kind == KIND_UNKNOWN) {
                kept_text = info.status_text;
                kept_len = info.status_text_len;
            }
        } else if (r == CAMB_RESULT_NOT_FOUND) {
            w->not_found++;
            if (kept_text != NULL) {
                /* A failure (here and on other threads) leaves them alone. */
                CHECK(same_text(kept_text, kept_len, "QUEUED_FOR_GPU"),
                      "thread %d: the last reply's status_text changed after a failure",
                      w->index);
            }
        } else {
            w->other++;
        }
    }
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
        camb_task_info info;
        camb_result r = camb_client_wait_for_task(setup, kind_id((enum task_kind)kind), &wait,
                                                  NULL, NULL, NULL, &info);
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
    unsigned long ok = 0, not_found = 0, other = 0;
    if (calls > 0) {
        phase2(threads, calls, &ok, &not_found, &other);
    }
    unsigned long checks_phase2 = atomic_load(&g_checks) - checks_phase1 - checks_workflow;
    unsigned long failures = atomic_load(&g_failures);

    printf("stress: phase1 clients=%d checks=%lu | workflow rounds=%d checks=%lu | phase2 "
           "threads=%d calls=%lu ok=%lu not_found=%lu other=%lu checks=%lu | failures=%lu: %s\n",
           clients, checks_phase1, workflows, checks_workflow, threads,
           (unsigned long)threads * (unsigned long)calls, ok, not_found, other, checks_phase2,
           failures, failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
