/*
 * conformance: libcamb's whole C workflow on Windows, against the emulator.
 *
 *   usage: conformance [BASE_URL [API_KEY [COPY_DIR]]]
 *
 * BASE_URL (the emulator's, "http://127.0.0.1:PORT") defaults to CAMB_BASE_URL and
 * API_KEY to CAMB_API_KEY (Wine passes the Unix environment through). The emulator's
 * demo tasks must be final already (started with --pending-ms 0). COPY_DIR, when
 * given, receives a copy of one saved WAV (copy.wav) and of the file saved under a
 * non-ASCII name, for the caller to compare from outside.
 *
 * Built by tests/windows.rs with x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra
 * -Wpedantic -Werror, linked with libcamb's import library and -lws2_32, and run under
 * Wine with the emulator running natively on 127.0.0.1. It drives the emulator's
 * control API (/_emulator/reset, /_emulator/faults) itself, over a plain Winsock
 * connection, so it needs nothing else.
 *
 * What it checks, section by section:
 * - version: camb_version() against the header's CAMB_VERSION_STRING.
 * - status: demo-success (run id 4242), demo-error, demo-pending.
 * - workflow: create, wait (with progress), save a WAV (its RIFF/WAVE header and size),
 *   download to memory (the same bytes), generate; saving to a drive-letter path with
 *   backslashes (under GetTempPathW), with forward slashes, to a relative path, to a
 *   \\?\ path longer than MAX_PATH and to a long path without the prefix, and under a
 *   non-ASCII UTF-8 name (found under its wide name with _wfopen and GetFileAttributesW).
 * - replace: saving over a file replaces it and leaves nothing else in the directory;
 *   a save that fails (HTTP 500, a timeout mid-body, a target held open by another
 *   handle) leaves the old file as it was and no temporary file.
 * - refusals: a missing directory, a directory, a trailing backslash, device names
 *   (NUL, con, nul.wav), a path that is not UTF-8, an empty path.
 * - errors: 401 (a wrong key, which never shows in the message), 404 (an unknown task),
 *   422 (music longer than the emulator's 600 s), a duration refused before sending,
 *   connection refused (a closed port), a timeout (a reply the emulator delays) and a
 *   wait's deadline.
 * - jobs: camb_queue_fd() is a SOCKET: WSAPoll and select see it not readable while no
 *   job is done (right after submitting a job the emulator holds) and readable once
 *   one is; camb_queue_pop() then gives that job with its result; then 20 jobs of every
 *   kind at once, each delivered once with the right result; camb_queue_wait(); a
 *   cancelled job.
 * - speech: camb_client_speak() streams a WAV to a callback (22050 Hz for mars-flash,
 *   its bytes counted as they come), camb_client_speak_to_file() saves one under a
 *   drive-letter path with its real sizes, a 422 names the allowed locales, and a
 *   speech job is read with camb_job_read_audio() on CAMB_EVENT_JOB_DATA events that
 *   WSAPoll sees on the queue's socket, every byte before its CAMB_EVENT_JOB_DONE.
 *
 * Every check that fails prints "FAIL: conformance.c:LINE: [section] condition: why"
 * and camb_last_error(), and exits 1. On success the last line is
 * "conformance: PASS (N checks)".
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* WSAPoll needs Vista or later */
#endif
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "camb.h"

/* ------------------------------------------------------------------ checks */

static unsigned long checks_passed;
static unsigned long section_start;
static const char *section_name = "start";

static void fail_at(int line, const char *condition, const char *format, ...) {
    fflush(stdout);
    fprintf(stderr, "FAIL: conformance.c:%d: [%s] %s: ", line, section_name, condition);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n  (camb_last_error() on this thread: \"%s\", HTTP %u)\n", camb_last_error(),
            (unsigned)camb_last_http_status());
    fflush(stderr);
    exit(1);
}

/* CHECK(condition, printf-format, ...): counts a pass, or fails the program. */
#define CHECK(condition, ...)                                                                  \
    do {                                                                                       \
        if (condition) {                                                                       \
            checks_passed++;                                                                   \
        } else {                                                                               \
            fail_at(__LINE__, #condition, __VA_ARGS__);                                        \
        }                                                                                      \
    } while (0)

/* CHECK_RESULT(call, CAMB_RESULT_X): the call returns exactly that result. */
#define CHECK_RESULT(call, want)                                                               \
    do {                                                                                       \
        camb_result got_ = (call);                                                             \
        if (got_ == (camb_result)(want)) {                                                     \
            checks_passed++;                                                                   \
        } else {                                                                               \
            fail_at(__LINE__, #call, "gave %s (%u), want %s", camb_result_name(got_),          \
                    (unsigned)got_, camb_result_name(want));                                   \
        }                                                                                      \
    } while (0)

static void section(const char *name) {
    if (strcmp(section_name, "start") != 0) {
        printf("ok: %s (%lu checks)\n", section_name, checks_passed - section_start);
    }
    section_name = name;
    section_start = checks_passed;
    printf("== %s\n", name);
    fflush(stdout);
}

/* ---------------------------------------------------------------- strings */

/* A new UTF-8 copy of a wide string (free it). */
static char *utf8_of(const wchar_t *wide) {
    int size = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    CHECK(size > 0, "WideCharToMultiByte failed (%lu)", GetLastError());
    char *text = malloc((size_t)size);
    CHECK(text != NULL, "out of memory");
    WideCharToMultiByte(CP_UTF8, 0, wide, -1, text, size, NULL, NULL);
    return text;
}

/* A new wide string joining up to three parts (NULL ends them early; free it). */
static wchar_t *wjoin(const wchar_t *a, const wchar_t *b, const wchar_t *c) {
    size_t len = wcslen(a) + (b ? wcslen(b) : 0) + (c ? wcslen(c) : 0) + 1;
    wchar_t *joined = malloc(len * sizeof *joined);
    CHECK(joined != NULL, "out of memory");
    wcscpy(joined, a);
    if (b != NULL) {
        wcscat(joined, b);
    }
    if (c != NULL) {
        wcscat(joined, c);
    }
    return joined;
}

static bool starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------------ files */

/* The whole file at a wide path (NULL if it cannot be opened); its size in *len. */
static unsigned char *read_file_w(const wchar_t *path, size_t *len) {
    FILE *file = _wfopen(path, L"rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = 1 << 16, used = 0;
    unsigned char *bytes = malloc(capacity);
    CHECK(bytes != NULL, "out of memory");
    size_t n;
    while ((n = fread(bytes + used, 1, capacity - used, file)) > 0) {
        used += n;
        if (used == capacity) {
            capacity *= 2;
            bytes = realloc(bytes, capacity);
            CHECK(bytes != NULL, "out of memory");
        }
    }
    fclose(file);
    *len = used;
    return bytes;
}

static void write_file_w(const wchar_t *path, const char *text) {
    FILE *file = _wfopen(path, L"wb");
    char *shown = utf8_of(path);
    CHECK(file != NULL, "cannot create %s", shown);
    CHECK(fwrite(text, 1, strlen(text), file) == strlen(text), "cannot write %s", shown);
    fclose(file);
    free(shown);
}

static bool exists_w(const wchar_t *path) {
    return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

static uint16_t u16_at(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32_at(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A canonical PCM WAV as the emulator renders it: mono, 16-bit, 22050 Hz. */
static void check_wav(const unsigned char *bytes, size_t len, const char *what) {
    CHECK(bytes != NULL, "%s: no such file", what);
    CHECK(len > 44, "%s: %zu bytes, too short for a WAV file", what, len);
    CHECK(memcmp(bytes, "RIFF", 4) == 0 && memcmp(bytes + 8, "WAVE", 4) == 0,
          "%s: no RIFF/WAVE header", what);
    CHECK(u32_at(bytes + 4) == len - 8, "%s: RIFF size %" PRIu32 " for %zu bytes", what,
          u32_at(bytes + 4), len);
    CHECK(memcmp(bytes + 12, "fmt ", 4) == 0 && u16_at(bytes + 20) == 1, "%s: not PCM", what);
    CHECK(u16_at(bytes + 22) == 1 && u32_at(bytes + 24) == 22050 && u16_at(bytes + 34) == 16,
          "%s: not mono 16-bit 22050 Hz", what);
    CHECK(memcmp(bytes + 36, "data", 4) == 0 && u32_at(bytes + 40) == len - 44,
          "%s: data chunk size %" PRIu32 " for %zu bytes", what, u32_at(bytes + 40), len);
}

/* The file at `path` holds exactly `want_len` bytes at `want`. */
static void check_same_file(const wchar_t *path, const unsigned char *want, size_t want_len) {
    char *shown = utf8_of(path);
    size_t len = 0;
    unsigned char *bytes = read_file_w(path, &len);
    CHECK(bytes != NULL, "%s cannot be opened under its wide name", shown);
    CHECK(len == want_len && memcmp(bytes, want, len) == 0,
          "%s: %zu bytes, not the %zu bytes expected", shown, len, want_len);
    free(bytes);
    free(shown);
}

/* The directory holds exactly one entry, named `only` (nothing left behind). */
static void check_only_entry(const wchar_t *dir, const wchar_t *only) {
    wchar_t *pattern = wjoin(dir, L"\\*", NULL);
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    char *shown_dir = utf8_of(dir);
    CHECK(search != INVALID_HANDLE_VALUE, "cannot list %s (%lu)", shown_dir, GetLastError());
    int entries = 0;
    do {
        if (wcscmp(found.cFileName, L".") == 0 || wcscmp(found.cFileName, L"..") == 0) {
            continue;
        }
        entries++;
        char *name = utf8_of(found.cFileName);
        char *want = utf8_of(only);
        CHECK(wcscmp(found.cFileName, only) == 0, "%s holds \"%s\" besides \"%s\"", shown_dir,
              name, want);
        free(name);
        free(want);
    } while (FindNextFileW(search, &found));
    FindClose(search);
    CHECK(entries == 1, "%s holds %d entries, want just one", shown_dir, entries);
    free(pattern);
    free(shown_dir);
}

/* Removes a directory tree (a \\?\ path, so that long paths go too). */
static void remove_tree(const wchar_t *dir) {
    wchar_t *pattern = wjoin(dir, L"\\*", NULL);
    WIN32_FIND_DATAW found;
    HANDLE search = FindFirstFileW(pattern, &found);
    if (search != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(found.cFileName, L".") == 0 || wcscmp(found.cFileName, L"..") == 0) {
                continue;
            }
            wchar_t *path = wjoin(dir, L"\\", found.cFileName);
            if (found.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
                remove_tree(path);
            } else {
                SetFileAttributesW(path, FILE_ATTRIBUTE_NORMAL);
                DeleteFileW(path);
            }
            free(path);
        } while (FindNextFileW(search, &found));
        FindClose(search);
    }
    RemoveDirectoryW(dir);
    free(pattern);
}

static void make_dir_w(const wchar_t *dir) {
    char *shown = utf8_of(dir);
    CHECK(CreateDirectoryW(dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS,
          "cannot create the directory %s (%lu)", shown, GetLastError());
    free(shown);
}

/* ------------------------------------------------- the emulator's control API */

static char control_host[256];
static char control_port[16];

/* Takes "http://HOST:PORT[/...]" apart for control_post(). */
static void parse_base_url(const char *base_url) {
    CHECK(starts_with(base_url, "http://"), "the base URL %s is not http://HOST:PORT", base_url);
    const char *host = base_url + strlen("http://");
    const char *colon = strchr(host, ':');
    CHECK(colon != NULL && (size_t)(colon - host) < sizeof control_host,
          "the base URL %s has no port", base_url);
    memcpy(control_host, host, (size_t)(colon - host));
    control_host[colon - host] = '\0';
    size_t digits = strspn(colon + 1, "0123456789");
    CHECK(digits > 0 && digits < sizeof control_port, "the base URL %s has no port", base_url);
    memcpy(control_port, colon + 1, digits);
    control_port[digits] = '\0';
}

/* POSTs `body` to the emulator's control `path` over a plain connection; the HTTP status. */
static int control_post(const char *path, const char *body) {
    struct addrinfo hints, *address = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    CHECK(getaddrinfo(control_host, control_port, &hints, &address) == 0 && address != NULL,
          "cannot resolve %s:%s (%d)", control_host, control_port, WSAGetLastError());
    SOCKET sock = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    CHECK(sock != INVALID_SOCKET, "socket() failed (%d)", WSAGetLastError());
    CHECK(connect(sock, address->ai_addr, (int)address->ai_addrlen) == 0,
          "cannot connect to the emulator's control API at %s:%s (%d)", control_host,
          control_port, WSAGetLastError());
    freeaddrinfo(address);
    DWORD timeout_ms = 10000;
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout_ms, sizeof timeout_ms);
    char request[2048];
    int len = snprintf(request, sizeof request,
                       "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       path, control_host, control_port, strlen(body), body);
    CHECK(len > 0 && (size_t)len < sizeof request, "control request too long");
    for (int sent = 0; sent < len;) {
        int n = send(sock, request + sent, len - sent, 0);
        CHECK(n > 0, "send to the control API failed (%d)", WSAGetLastError());
        sent += n;
    }
    char reply[4096];
    int got = 0, n;
    while (got < (int)sizeof reply - 1 &&
           (n = recv(sock, reply + got, (int)sizeof reply - 1 - got, 0)) > 0) {
        got += n;
    }
    reply[got] = '\0';
    closesocket(sock);
    int status = 0;
    CHECK(sscanf(reply, "HTTP/1.%*d %d", &status) == 1, "no HTTP status line from %s: %.80s",
          path, reply);
    return status;
}

static void push_fault(const char *fault_json) {
    int status = control_post("/_emulator/faults", fault_json);
    CHECK(status == 204, "POST /_emulator/faults %s gave HTTP %d", fault_json, status);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
static unsigned closed_port(void) {
    SOCKET sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    CHECK(sock != INVALID_SOCKET, "socket() failed (%d)", WSAGetLastError());
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int size = sizeof address;
    CHECK(bind(sock, (struct sockaddr *)&address, sizeof address) == 0 &&
              getsockname(sock, (struct sockaddr *)&address, &size) == 0,
          "cannot bind a port (%d)", WSAGetLastError());
    closesocket(sock);
    return ntohs(address.sin_port);
}

/* ------------------------------------------------------------------ clients */

static const char *base_url;
static const char *api_key;

static camb_client *make_client(const char *url, const char *key, uint64_t timeout_ms,
                                uint32_t retries) {
    camb_client_builder *builder = camb_client_builder_new();
    CHECK(builder != NULL, "camb_client_builder_new gave NULL");
    CHECK_RESULT(camb_client_builder_set_api_key(builder, key), CAMB_RESULT_OK);
    CHECK_RESULT(camb_client_builder_set_base_url(builder, url), CAMB_RESULT_OK);
    CHECK_RESULT(camb_client_builder_set_timeout_ms(builder, timeout_ms), CAMB_RESULT_OK);
    CHECK_RESULT(camb_client_builder_set_max_retries(builder, retries), CAMB_RESULT_OK);
    camb_client *client = NULL;
    CHECK_RESULT(camb_client_builder_build(builder, &client), CAMB_RESULT_OK);
    CHECK(client != NULL, "the build succeeded without a client");
    return client;
}

static int64_t run_id_of(const camb_task *task) {
    int64_t run_id = -1;
    CHECK(camb_task_run_id(task, &run_id), "the task has no run id");
    return run_id;
}

static bool count_polls(const camb_wait_progress *progress, void *user_data) {
    uint32_t *polls = user_data;
    *polls = progress->polls;
    return true;
}

struct buffer {
    unsigned char *bytes;
    size_t len, capacity;
};

static bool append_chunk(const uint8_t *data, size_t len, void *user_data) {
    struct buffer *buffer = user_data;
    if (buffer->len + len > buffer->capacity) {
        buffer->capacity = (buffer->len + len) * 2;
        buffer->bytes = realloc(buffer->bytes, buffer->capacity);
        CHECK(buffer->bytes != NULL, "out of memory");
    }
    memcpy(buffer->bytes + buffer->len, data, len);
    buffer->len += len;
    return true;
}

/* ------------------------------------------------------------------ sections */

static void check_version(void) {
    section("version");
    const char *version = camb_version();
    CHECK(version != NULL && strcmp(version, CAMB_VERSION_STRING) == 0,
          "camb_version() is \"%s\", the header says \"%s\"", version, CAMB_VERSION_STRING);
    char numbers[32];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", CAMB_VERSION_MAJOR, CAMB_VERSION_MINOR,
             CAMB_VERSION_PATCH);
    CHECK(strcmp(numbers, version) == 0, "the header's numbers %s differ from %s", numbers,
          version);
    printf("libcamb %s\n", version);
}

static void check_status(camb_client *client) {
    section("status");
    camb_task *task = NULL;
    CHECK_RESULT(camb_client_get_task_status(client, "demo-success", NULL, &task), CAMB_RESULT_OK);
    size_t len = 0;
    const char *text = camb_task_status_text(task, &len);
    CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS && text != NULL &&
              strcmp(text, "SUCCESS") == 0 && len == 7,
          "demo-success is %s (%s)", camb_status_name(camb_task_status(task)),
          text ? text : "(null)");
    CHECK(run_id_of(task) == 4242, "demo-success has run id %" PRId64, run_id_of(task));
    CHECK(strcmp(camb_task_id(task, NULL), "demo-success") == 0, "task id %s",
          camb_task_id(task, NULL));
    CHECK(camb_status_is_final(camb_task_status(task)), "SUCCESS is not final");
    camb_task_free(task);

    task = NULL;
    CHECK_RESULT(camb_client_get_task_status(client, "demo-error", NULL, &task), CAMB_RESULT_OK);
    const char *reason = camb_task_exception_reason(task, NULL);
    CHECK(camb_task_status(task) == CAMB_STATUS_ERROR && reason != NULL &&
              strcmp(reason, "PROCESSING_ERROR") == 0 && run_id_of(task) == 4243,
          "demo-error is %s, reason %s", camb_status_name(camb_task_status(task)),
          reason ? reason : "(null)");
    camb_task_free(task);

    task = NULL;
    CHECK_RESULT(camb_client_get_task_status(client, "demo-pending", NULL, &task), CAMB_RESULT_OK);
    CHECK(camb_task_status(task) == CAMB_STATUS_PENDING && !camb_task_run_id(task, NULL) &&
              !camb_status_is_final(CAMB_STATUS_PENDING),
          "demo-pending is %s", camb_status_name(camb_task_status(task)));
    camb_task_free(task);
}

/* Where the saves go: a fresh directory under GetTempPathW (a drive-letter path). */
static wchar_t *work_dir;

static wchar_t *make_work_dir(void) {
    wchar_t temp[MAX_PATH + 1];
    DWORD len = GetTempPathW(MAX_PATH + 1, temp);
    CHECK(len > 3 && len <= MAX_PATH, "GetTempPathW failed (%lu)", GetLastError());
    char *shown = utf8_of(temp);
    CHECK(((temp[0] >= L'A' && temp[0] <= L'Z') || (temp[0] >= L'a' && temp[0] <= L'z')) &&
              temp[1] == L':' && temp[2] == L'\\' && temp[len - 1] == L'\\',
          "GetTempPathW gave %s, not a drive-letter path", shown);
    free(shown);
    wchar_t name[64];
    swprintf(name, sizeof name / sizeof name[0], L"camb-conformance-%lu",
             (unsigned long)GetCurrentProcessId());
    wchar_t *dir = wjoin(temp, name, NULL);
    wchar_t *verbatim = wjoin(L"\\\\?\\", dir, NULL);
    remove_tree(verbatim); /* a stale one from a killed run with the same pid */
    free(verbatim);
    make_dir_w(dir);
    return dir;
}

/* Saves run `run_id` to the UTF-8 `path` and checks the call and the byte count. */
static void save_ok(camb_client *client, int64_t run_id, const char *path, size_t want_bytes) {
    uint64_t bytes = 0;
    camb_result result = camb_client_save_audio(client, run_id, path, NULL, &bytes);
    CHECK(result == CAMB_RESULT_OK, "saving run %" PRId64 " to %s gave %s", run_id, path,
          camb_result_name(result));
    CHECK(bytes == want_bytes, "saving to %s wrote %" PRIu64 " bytes, want %zu", path, bytes,
          want_bytes);
}

/* Rain, saved: the reference audio of the workflow. */
static unsigned char *reference;
static size_t reference_len;
static int64_t reference_run;
static const char *const REFERENCE_PROMPT = "rain on a tin roof [pending_ms:300]";

static void check_workflow(camb_client *client, const wchar_t *copy_dir) {
    section("workflow");
    camb_create_options options = camb_create_options_default();
    CHECK(options.struct_size == sizeof options, "camb_create_options_default refused: %zu",
          options.struct_size);
    options.duration_s = 2;
    char *task_id = NULL;
    size_t id_len = 0;
    CHECK_RESULT(
        camb_client_create_task(client, REFERENCE_PROMPT, &options, NULL, &task_id, &id_len),
        CAMB_RESULT_OK);
    CHECK(task_id != NULL && id_len == strlen(task_id) && id_len > 0, "no task id");
    printf("created task %s\n", task_id);

    camb_wait_options wait = camb_wait_options_default();
    CHECK(wait.struct_size == sizeof wait, "camb_wait_options_default refused");
    wait.initial_interval_ms = 100;
    wait.max_interval_ms = 200;
    wait.deadline_ms = 30000;
    uint32_t polls = 0;
    camb_task *task = NULL;
    CHECK_RESULT(
        camb_client_wait_for_task(client, task_id, &wait, NULL, count_polls, &polls, &task),
        CAMB_RESULT_OK);
    CHECK(camb_task_status(task) == CAMB_STATUS_SUCCESS, "the task ended %s",
          camb_status_name(camb_task_status(task)));
    CHECK(polls >= 2, "a task pending for 300 ms was polled %" PRIu32 " times", polls);
    reference_run = run_id_of(task);
    camb_task_free(task);
    camb_string_free(task_id);

    /* 2 s of mono 16-bit 22050 Hz audio and a 44-byte header. */
    const size_t want = 44 + 2 * 22050 * 2;
    wchar_t *rain = wjoin(work_dir, L"\\rain.wav", NULL);
    char *rain_utf8 = utf8_of(rain);
    CHECK(strchr(rain_utf8, '\\') != NULL && rain_utf8[1] == ':', "%s", rain_utf8);
    save_ok(client, reference_run, rain_utf8, want);
    reference = read_file_w(rain, &reference_len);
    check_wav(reference, reference_len, rain_utf8);
    CHECK(reference_len == want, "%s has %zu bytes", rain_utf8, reference_len);
    printf("saved run %" PRId64 " to %s (%zu bytes)\n", reference_run, rain_utf8, reference_len);

    /* The same bytes through the write callback. */
    struct buffer memory = {NULL, 0, 0};
    uint64_t downloaded = 0;
    CHECK_RESULT(camb_client_download_audio(client, reference_run, NULL, append_chunk, &memory,
                                            &downloaded),
                 CAMB_RESULT_OK);
    CHECK(downloaded == reference_len && memory.len == reference_len &&
              memcmp(memory.bytes, reference, reference_len) == 0,
          "the download differs from the saved file (%zu bytes)", memory.len);
    free(memory.bytes);

    /* Forward slashes in a drive-letter path. */
    wchar_t *slashed = wjoin(work_dir, L"\\slashes.wav", NULL);
    char *slashed_utf8 = utf8_of(slashed);
    for (char *c = slashed_utf8; *c; c++) {
        if (*c == '\\') {
            *c = '/';
        }
    }
    save_ok(client, reference_run, slashed_utf8, want);
    check_same_file(slashed, reference, reference_len);
    printf("saved to %s\n", slashed_utf8);

    /* A relative path, from the current directory. */
    CHECK(SetCurrentDirectoryW(work_dir), "SetCurrentDirectoryW failed (%lu)", GetLastError());
    save_ok(client, reference_run, "relative.wav", want);
    wchar_t *relative = wjoin(work_dir, L"\\relative.wav", NULL);
    check_same_file(relative, reference, reference_len);

    /* A \\?\ path longer than MAX_PATH, through nested directories made for it. */
    wchar_t *deep = wjoin(L"\\\\?\\", work_dir, NULL);
    for (int level = 0; level < 6; level++) {
        wchar_t *next = wjoin(deep, L"\\a-directory-name-of-fifty-characters-0123456789", NULL);
        free(deep);
        deep = next;
        make_dir_w(deep);
    }
    wchar_t *long_file = wjoin(deep, L"\\long-path.wav", NULL);
    CHECK(wcslen(long_file) > MAX_PATH, "the long path has only %zu characters", wcslen(long_file));
    char *long_utf8 = utf8_of(long_file);
    save_ok(client, reference_run, long_utf8, want);
    CHECK(exists_w(long_file), "GetFileAttributesW does not find %s (%lu)", long_utf8,
          GetLastError());
    check_same_file(long_file, reference, reference_len);
    printf("saved to a \\\\?\\ path of %zu characters\n", wcslen(long_file));

    /* The same directory without the \\?\ prefix: longer than MAX_PATH too. */
    wchar_t *plain_long = wjoin(deep + 4, L"\\plain-long-path.wav", NULL);
    char *plain_long_utf8 = utf8_of(plain_long);
    save_ok(client, reference_run, plain_long_utf8, want);
    wchar_t *plain_long_verbatim = wjoin(deep, L"\\plain-long-path.wav", NULL);
    check_same_file(plain_long_verbatim, reference, reference_len);

    /* A non-ASCII directory and file name given as UTF-8: "répertoire-音" and
     * "café-日本-звук-🔊.wav", written here as UTF-16 code units and as UTF-8 bytes
     * separately, so that neither is made from the other. */
    const wchar_t *dir_w = L"r\x00e9pertoire-\x97f3";
    const char *dir_8 = "r\xc3\xa9pertoire-\xe9\x9f\xb3";
    const wchar_t *name_w = L"caf\x00e9-\x65e5\x672c-\x0437\x0432\x0443\x043a-\xd83d\xdd0a.wav";
    const char *name_8 = "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xd0\xb7\xd0\xb2\xd1\x83\xd0\xba-"
                         "\xf0\x9f\x94\x8a.wav";
    wchar_t *unicode_dir = wjoin(work_dir, L"\\", dir_w);
    make_dir_w(unicode_dir);
    char *work_utf8 = utf8_of(work_dir);
    char unicode_path[1024];
    snprintf(unicode_path, sizeof unicode_path, "%s\\%s\\%s", work_utf8, dir_8, name_8);
    save_ok(client, reference_run, unicode_path, want);
    wchar_t *unicode_file = wjoin(unicode_dir, L"\\", name_w);
    CHECK(GetFileAttributesW(unicode_file) != INVALID_FILE_ATTRIBUTES,
          "GetFileAttributesW does not find the file under its wide name (%lu)", GetLastError());
    check_same_file(unicode_file, reference, reference_len);
    check_only_entry(unicode_dir, name_w); /* and no file under a mangled name */
    printf("saved to %s\n", unicode_path);

    /* generate: create, wait and save in one call. */
    wchar_t *generated = wjoin(work_dir, L"\\generated.wav", NULL);
    char *generated_utf8 = utf8_of(generated);
    camb_create_options one_second = camb_create_options_default();
    one_second.duration_s = 1;
    camb_task *final_task = NULL;
    uint64_t bytes = 0;
    polls = 0;
    CHECK_RESULT(camb_client_generate(client, "wind in pines [pending_ms:200]", &one_second, &wait,
                                      generated_utf8, NULL, count_polls, &polls, &final_task,
                                      &bytes),
                 CAMB_RESULT_OK);
    size_t generated_len = 0;
    unsigned char *generated_bytes = read_file_w(generated, &generated_len);
    check_wav(generated_bytes, generated_len, generated_utf8);
    CHECK(bytes == generated_len && generated_len == 44 + 22050 * 2,
          "generate saved %" PRIu64 " bytes, the file has %zu", bytes, generated_len);
    CHECK(camb_task_status(final_task) == CAMB_STATUS_SUCCESS && polls >= 1,
          "generate ended %s after %" PRIu32 " polls",
          camb_status_name(camb_task_status(final_task)), polls);
    camb_task_free(final_task);
    free(generated_bytes);

    /* Copies for the caller, who checks them from outside Windows. */
    if (copy_dir != NULL) {
        char *copy_utf8 = utf8_of(copy_dir);
        char copy_path[1024];
        snprintf(copy_path, sizeof copy_path, "%s\\copy.wav", copy_utf8);
        save_ok(client, reference_run, copy_path, want);
        snprintf(copy_path, sizeof copy_path, "%s\\%s", copy_utf8, name_8);
        save_ok(client, reference_run, copy_path, want);
        free(copy_utf8);
    }

    free(generated_utf8);
    free(generated);
    free(work_utf8);
    free(unicode_file);
    free(unicode_dir);
    free(plain_long_verbatim);
    free(plain_long_utf8);
    free(plain_long);
    free(long_utf8);
    free(long_file);
    free(deep);
    free(relative);
    free(slashed_utf8);
    free(slashed);
    free(rain_utf8);
    free(rain);
}

/* Saving over existing files, and failed saves that must leave them as they were. */
static void check_replace(camb_client *client) {
    section("replace");
    wchar_t *dir = wjoin(work_dir, L"\\replace", NULL);
    make_dir_w(dir);
    wchar_t *target = wjoin(dir, L"\\target.wav", NULL);
    char *target_utf8 = utf8_of(target);
    const char *old = "old content, not audio";

    write_file_w(target, old);
    save_ok(client, reference_run, target_utf8, reference_len);
    check_same_file(target, reference, reference_len);
    check_only_entry(dir, L"target.wav");

    /* A save that fails (HTTP 500, no retry) leaves the file as it was, and no
     * temporary file. */
    camb_client *no_retry = make_client(base_url, api_key, 10000, 0);
    write_file_w(target, old);
    push_fault("{\"path_prefix\":\"/text-to-sound-result/\",\"times\":1,"
               "\"respond\":{\"status\":500,\"body\":\"{\\\"detail\\\":\\\"storage down\\\"}\","
               "\"content_type\":\"application/json\"}}");
    CHECK_RESULT(camb_client_save_audio(no_retry, reference_run, target_utf8, NULL, NULL),
                 CAMB_RESULT_SERVER_ERROR);
    CHECK(camb_last_http_status() == 500, "HTTP %u", (unsigned)camb_last_http_status());
    check_same_file(target, (const unsigned char *)old, strlen(old));
    check_only_entry(dir, L"target.wav");

    /* A timeout mid-body: half the audio was in the temporary file, which goes. */
    camb_client *impatient = make_client(base_url, api_key, 1500, 0);
    push_fault("{\"path_prefix\":\"/text-to-sound-result/\",\"times\":1,\"body_delay_ms\":5000}");
    ULONGLONG started = GetTickCount64();
    CHECK_RESULT(camb_client_save_audio(impatient, reference_run, target_utf8, NULL, NULL),
                 CAMB_RESULT_TIMEOUT);
    ULONGLONG took = GetTickCount64() - started;
    CHECK(took >= 1000 && took < 4500, "the 1500 ms timeout came after %llu ms", took);
    check_same_file(target, (const unsigned char *)old, strlen(old));
    check_only_entry(dir, L"target.wav");

    /* The target held open by another handle without FILE_SHARE_DELETE (as the C
     * runtime's fopen, or a media player, opens it): Windows refuses to replace it.
     * The save fails with CAMB_RESULT_IO and, again, leaves nothing behind. */
    FILE *held = _wfopen(target, L"rb");
    CHECK(held != NULL, "cannot open %s", target_utf8);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, target_utf8, NULL, NULL),
                 CAMB_RESULT_IO);
    CHECK(strstr(camb_last_error(), "rename") != NULL, "the message does not say what failed");
    fclose(held);
    check_same_file(target, (const unsigned char *)old, strlen(old));
    check_only_entry(dir, L"target.wav");
    /* Once it is closed, the save goes through. */
    save_ok(client, reference_run, target_utf8, reference_len);
    check_same_file(target, reference, reference_len);
    check_only_entry(dir, L"target.wav");

    camb_client_free(impatient);
    camb_client_free(no_retry);
    free(target_utf8);
    free(target);
    free(dir);
}

/* Paths refused before anything is downloaded. */
static void check_refusals(camb_client *client) {
    section("refusals");
    char *work_utf8 = utf8_of(work_dir);
    char path[1024];

    snprintf(path, sizeof path, "%s\\no-such-directory\\out.wav", work_utf8);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, path, NULL, NULL), CAMB_RESULT_IO);
    CHECK(strstr(camb_last_error(), "does not exist") != NULL, "%s", camb_last_error());

    snprintf(path, sizeof path, "%s\\replace", work_utf8);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, path, NULL, NULL), CAMB_RESULT_IO);
    CHECK(strstr(camb_last_error(), "directory") != NULL, "%s", camb_last_error());

    snprintf(path, sizeof path, "%s\\no-such-directory\\", work_utf8);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, path, NULL, NULL),
                 CAMB_RESULT_INVALID_PARAMETER);

    snprintf(path, sizeof path, "%s\\not-utf8-\xff.wav", work_utf8);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, path, NULL, NULL),
                 CAMB_RESULT_INVALID_PARAMETER);
    CHECK(strstr(camb_last_error(), "UTF-8") != NULL, "%s", camb_last_error());

    /* Device names, in any directory and with an extension, are refused in words. */
    const char *devices[] = {"NUL", "con", "nul.wav", NULL};
    for (const char **device = devices; *device != NULL; device++) {
        snprintf(path, sizeof path, "%s\\%s", work_utf8, *device);
        CHECK_RESULT(camb_client_save_audio(client, reference_run, path, NULL, NULL),
                     CAMB_RESULT_IO);
        CHECK(strstr(camb_last_error(), "Windows device name") != NULL, "%s: %s", *device,
              camb_last_error());
    }

    CHECK_RESULT(camb_client_save_audio(client, reference_run, "", NULL, NULL),
                 CAMB_RESULT_INVALID_PARAMETER);
    CHECK_RESULT(camb_client_save_audio(client, reference_run, NULL, NULL, NULL),
                 CAMB_RESULT_NULL_PARAMETER);
    free(work_utf8);
}

static void check_errors(camb_client *client) {
    section("errors");
    camb_task *task = NULL;

    /* 401: a wrong key, which the message never repeats. */
    const char *wrong_key = "wrong-key-0123456789";
    camb_client *stranger = make_client(base_url, wrong_key, 10000, 0);
    CHECK_RESULT(camb_client_get_task_status(stranger, "demo-success", NULL, &task),
                 CAMB_RESULT_UNAUTHORIZED);
    CHECK(camb_last_http_status() == 401, "HTTP %u", (unsigned)camb_last_http_status());
    CHECK(strstr(camb_last_error(), wrong_key) == NULL, "the key is in the message");
    CHECK(task == NULL, "a task was written on failure");
    camb_client_free(stranger);

    /* 404: an unknown task id, in the server's words. */
    CHECK_RESULT(camb_client_get_task_status(client, "no-such-task", NULL, &task),
                 CAMB_RESULT_NOT_FOUND);
    CHECK(camb_last_http_status() == 404, "HTTP %u", (unsigned)camb_last_http_status());
    CHECK(strcmp(camb_last_error(), "HTTP 404 Not Found: Task not found: no-such-task") == 0,
          "the message is \"%s\"", camb_last_error());
    CHECK(strcmp(camb_result_name(CAMB_RESULT_NOT_FOUND), "CAMB_RESULT_NOT_FOUND") == 0, "name");

    /* 422: music longer than the emulator renders (600 s), which libcamb sends. */
    camb_create_options music = camb_create_options_default();
    music.audio_type = CAMB_AUDIO_TYPE_MUSIC;
    music.duration_s = 601;
    char *task_id = NULL;
    CHECK_RESULT(
        camb_client_create_task(client, "an endless symphony", &music, NULL, &task_id, NULL),
        CAMB_RESULT_VALIDATION);
    CHECK(camb_last_http_status() == 422, "HTTP %u", (unsigned)camb_last_http_status());
    CHECK(strstr(camb_last_error(), "duration") != NULL, "the message \"%s\" names no field",
          camb_last_error());
    CHECK(task_id == NULL, "a task id was written on failure");

    /* A sound over 10 s is refused before anything is sent. */
    camb_create_options sound = camb_create_options_default();
    sound.duration_s = 11;
    CHECK_RESULT(camb_client_create_task(client, "a long bang", &sound, NULL, &task_id, NULL),
                 CAMB_RESULT_INVALID_PARAMETER);
    CHECK(camb_last_http_status() == 0, "HTTP %u", (unsigned)camb_last_http_status());

    /* Connection refused: a port nothing listens on. */
    char refused_url[64];
    snprintf(refused_url, sizeof refused_url, "http://127.0.0.1:%u", closed_port());
    camb_client *nowhere = make_client(refused_url, api_key, 10000, 0);
    ULONGLONG started = GetTickCount64();
    CHECK_RESULT(camb_client_get_task_status(nowhere, "demo-success", NULL, &task),
                 CAMB_RESULT_CONNECT);
    ULONGLONG took = GetTickCount64() - started;
    CHECK(camb_last_http_status() == 0, "HTTP %u", (unsigned)camb_last_http_status());
    CHECK(took < 9000, "the refused connection took %llu ms", took);
    printf("connection refused after %llu ms: %s\n", took, camb_last_error());
    camb_client_free(nowhere);

    /* A timeout: the emulator holds the reply 3 s, the client waits 500 ms. */
    camb_client *impatient = make_client(base_url, api_key, 500, 0);
    push_fault("{\"path_prefix\":\"/text-to-sound/demo-timeout\",\"times\":1,\"delay_ms\":3000}");
    started = GetTickCount64();
    CHECK_RESULT(camb_client_get_task_status(impatient, "demo-timeout", NULL, &task),
                 CAMB_RESULT_TIMEOUT);
    took = GetTickCount64() - started;
    CHECK(took >= 400 && took < 2500, "the 500 ms timeout came after %llu ms", took);
    printf("timed out after %llu ms: %s\n", took, camb_last_error());
    camb_client_free(impatient);

    /* A wait's deadline on a task that never finishes. */
    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 50;
    wait.deadline_ms = 300;
    CHECK_RESULT(camb_client_wait_for_task(client, "demo-pending", &wait, NULL, NULL, NULL, &task),
                 CAMB_RESULT_TIMEOUT);
    CHECK(strstr(camb_last_error(), "PENDING") != NULL, "%s", camb_last_error());
}

/* ------------------------------------------------------------------ jobs */

/* The handle's readiness: WSAPoll's count (0: not readable) within `timeout_ms`. */
static int poll_ready(SOCKET sock, int timeout_ms) {
    WSAPOLLFD watched;
    memset(&watched, 0, sizeof watched);
    watched.fd = sock;
    watched.events = POLLRDNORM;
    int n = WSAPoll(&watched, 1, timeout_ms);
    CHECK(n >= 0, "WSAPoll failed (%d)", WSAGetLastError());
    CHECK(n == 0 || (watched.revents & POLLRDNORM) != 0, "WSAPoll woke with revents %#x",
          (unsigned)watched.revents);
    CHECK((watched.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0, "WSAPoll says %#x",
          (unsigned)watched.revents);
    return n;
}

/* The same with select(), which a Windows event loop may use instead. */
static int select_ready(SOCKET sock) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(sock, &readable);
    struct timeval zero = {0, 0};
    int n = select(0, &readable, NULL, NULL, &zero);
    CHECK(n >= 0, "select failed (%d)", WSAGetLastError());
    return n;
}

enum { STATUS_JOBS = 12 };

/* What one job of the batch should give. */
struct expected {
    const char *what;
    camb_job *job;
    camb_result result;
    int delivered;
};

static const char *const STATUS_IDS[6] = {
    "demo-success", "demo-error", "demo-timeout", "demo-payment-required", "demo-unknown",
    "no-such-task-job"};
static const camb_status STATUS_WANT[6] = {CAMB_STATUS_SUCCESS, CAMB_STATUS_ERROR,
                                           CAMB_STATUS_TIMEOUT, CAMB_STATUS_PAYMENT_REQUIRED,
                                           CAMB_STATUS_UNKNOWN, CAMB_STATUS_UNKNOWN};

/* Checks a delivered job against what it should give. */
static void check_job(struct expected *all, size_t index, const char *save_path,
                      size_t save_len) {
    struct expected *e = &all[index];
    camb_job *job = e->job;
    camb_result result = camb_job_result(job);
    size_t error_len = 0;
    const char *error = camb_job_error(job, &error_len);
    CHECK(result == e->result, "job %s gave %s (%s), want %s", e->what, camb_result_name(result),
          error ? error : "no error", camb_result_name(e->result));
    CHECK(camb_job_get_state(job) == CAMB_JOB_STATE_DONE, "job %s delivered in state %u", e->what,
          (unsigned)camb_job_get_state(job));
    size_t len = 0;
    if (index < STATUS_JOBS) {
        size_t which = index % 6;
        const char *id = camb_job_task_id(job, &len);
        CHECK(id != NULL && strcmp(id, STATUS_IDS[which]) == 0, "job %s has task id %s", e->what,
              id ? id : "(null)");
        if (which == 5) {
            CHECK(camb_job_http_status(job) == 404 && error != NULL &&
                      strstr(error, "Task not found: no-such-task-job") != NULL,
                  "job %s: HTTP %u, %s", e->what, (unsigned)camb_job_http_status(job),
                  error ? error : "(null)");
        } else {
            const camb_task *task = camb_job_task(job);
            CHECK(task != NULL && camb_task_status(task) == STATUS_WANT[which] &&
                      camb_job_task_status(job) == STATUS_WANT[which],
                  "job %s: status %s", e->what, camb_status_name(camb_task_status(task)));
            if (which == 0) {
                CHECK(run_id_of(task) == 4242, "job %s: run id", e->what);
            }
            if (which == 4) {
                const char *text = camb_task_status_text(task, NULL);
                CHECK(text != NULL && strcmp(text, "QUEUED_FOR_GPU") == 0, "job %s: %s", e->what,
                      text ? text : "(null)");
            }
        }
        return;
    }
    switch (camb_job_get_kind(job)) {
    case CAMB_JOB_KIND_CREATE_TASK: {
        const char *id = camb_job_task_id(job, &len);
        CHECK(id != NULL && len > 0, "the create job has no task id");
        break;
    }
    case CAMB_JOB_KIND_WAIT_FOR_TASK:
        if (result == CAMB_RESULT_OK) {
            CHECK(camb_task_status(camb_job_task(job)) == CAMB_STATUS_SUCCESS &&
                      camb_job_polls(job) >= 1,
                  "the wait job ended %s after %" PRIu32 " polls",
                  camb_status_name(camb_task_status(camb_job_task(job))), camb_job_polls(job));
        }
        break;
    case CAMB_JOB_KIND_DOWNLOAD_AUDIO: {
        const uint8_t *audio = camb_job_audio(job, &len);
        check_wav(audio, len, "the download job's audio");
        CHECK(camb_job_bytes(job) == len, "the download job counted %" PRIu64 " bytes of %zu",
              camb_job_bytes(job), len);
        break;
    }
    case CAMB_JOB_KIND_SAVE_AUDIO: {
        wchar_t *path_w = NULL;
        int size = MultiByteToWideChar(CP_UTF8, 0, save_path, -1, NULL, 0);
        path_w = malloc((size_t)size * sizeof *path_w);
        CHECK(path_w != NULL, "out of memory");
        MultiByteToWideChar(CP_UTF8, 0, save_path, -1, path_w, size);
        size_t file_len = 0;
        unsigned char *bytes = read_file_w(path_w, &file_len);
        check_wav(bytes, file_len, save_path);
        CHECK(camb_job_bytes(job) == file_len && file_len == save_len,
              "the save job wrote %" PRIu64 " bytes, the file has %zu", camb_job_bytes(job),
              file_len);
        free(bytes);
        free(path_w);
        break;
    }
    case CAMB_JOB_KIND_GENERATE:
        CHECK(camb_job_bytes(job) == 44 + 22050 * 2 && camb_job_polls(job) >= 1 &&
                  camb_job_task_status(job) == CAMB_STATUS_SUCCESS,
              "the generate job: %" PRIu64 " bytes, %" PRIu32 " polls", camb_job_bytes(job),
              camb_job_polls(job));
        break;
    case CAMB_JOB_KIND_GET_AUDIO_URL: {
        const char *url = camb_job_audio_url(job, &len);
        char want[256];
        snprintf(want, sizeof want, "%s/_emulator/files/4242.wav", base_url);
        CHECK(url != NULL && starts_with(url, want), "the URL job gave %s", url ? url : "(null)");
        break;
    }
    case CAMB_JOB_KIND_GET_TASK_STATUSES: {
        const camb_task_list *list = camb_job_task_list(job);
        CHECK(camb_task_list_len(list) == 2, "the batch job has %zu tasks",
              camb_task_list_len(list));
        CHECK(camb_task_result(camb_task_list_get(list, 0)) == CAMB_RESULT_OK &&
                  camb_task_result(camb_task_list_get(list, 1)) == CAMB_RESULT_NOT_FOUND,
              "the batch job's tasks gave %s and %s",
              camb_result_name(camb_task_result(camb_task_list_get(list, 0))),
              camb_result_name(camb_task_result(camb_task_list_get(list, 1))));
        break;
    }
    default:
        CHECK(false, "job %s has kind %u", e->what, (unsigned)camb_job_get_kind(job));
    }
}

static void check_jobs(camb_client *client) {
    section("jobs");
    camb_queue *queue = NULL;
    CHECK_RESULT(camb_queue_new(&queue), CAMB_RESULT_OK);
    CHECK(camb_queue_fd(NULL) == -1, "camb_queue_fd(NULL) is not -1");
    ptrdiff_t handle = camb_queue_fd(queue);
    CHECK(handle != -1 && (SOCKET)handle != INVALID_SOCKET, "camb_queue_fd gave %td", handle);
    SOCKET sock = (SOCKET)handle;
    int type = 0, type_len = sizeof type;
    CHECK(getsockopt(sock, SOL_SOCKET, SO_TYPE, (char *)&type, &type_len) == 0,
          "the readiness handle %td is not a socket (%d)", handle, WSAGetLastError());
    CHECK(poll_ready(sock, 0) == 0, "an empty queue's handle is readable");
    CHECK(select_ready(sock) == 0, "select: an empty queue's handle is readable");

    /* One job the emulator holds for 1.5 s: not readable until it is done. */
    push_fault("{\"path_prefix\":\"/text-to-sound/demo-error\",\"times\":1,\"delay_ms\":1500}");
    camb_job *held = NULL;
    int marker = 0;
    CHECK_RESULT(camb_client_job_get_task_status(client, "demo-error", &held), CAMB_RESULT_OK);
    CHECK(camb_job_get_state(held) == CAMB_JOB_STATE_NEW, "a new job is in state %u",
          (unsigned)camb_job_get_state(held));
    ULONGLONG started = GetTickCount64();
    CHECK_RESULT(camb_job_submit(held, queue, &marker), CAMB_RESULT_OK);
    CHECK(poll_ready(sock, 0) == 0, "readable right after submitting a job the emulator holds");
    CHECK(select_ready(sock) == 0, "select: readable right after submitting");
    camb_event event = 0;
    camb_job *popped = NULL;
    CHECK_RESULT(camb_queue_pop(queue, &event, &popped), CAMB_RESULT_NOT_READY);
    CHECK(popped == NULL, "camb_queue_pop wrote a job when it had none");
    CHECK(camb_job_get_state(held) != CAMB_JOB_STATE_DONE, "the held job is done already");
    CHECK(poll_ready(sock, 300) == 0, "readable 300 ms into a job held for 1.5 s");
    CHECK(poll_ready(sock, 20000) == 1, "not readable within 20 s of submitting the job");
    ULONGLONG waited = GetTickCount64() - started;
    CHECK(waited >= 1200, "readable after %llu ms, before the held reply came", waited);
    CHECK(select_ready(sock) == 1, "select: not readable while WSAPoll says it is");
    CHECK_RESULT(camb_queue_pop(queue, &event, &popped), CAMB_RESULT_OK);
    CHECK(event == CAMB_EVENT_JOB_DONE && popped == held && camb_job_user_data(popped) == &marker,
          "camb_queue_pop gave event %u, job %p", (unsigned)event, (void *)popped);
    CHECK(camb_job_result(popped) == CAMB_RESULT_OK &&
              camb_task_status(camb_job_task(popped)) == CAMB_STATUS_ERROR &&
              run_id_of(camb_job_task(popped)) == 4243,
          "the held job gave %s", camb_result_name(camb_job_result(popped)));
    CHECK(poll_ready(sock, 0) == 0, "still readable once the only event was taken");
    CHECK_RESULT(camb_queue_pop(queue, &event, &popped), CAMB_RESULT_NOT_READY);
    camb_job_free(held);
    printf("the held job made the handle readable after %llu ms\n", waited);

    /* Twenty jobs of every kind at once, taken from one WSAPoll loop. */
    struct expected all[STATUS_JOBS + 8];
    size_t count = 0;
    char name[STATUS_JOBS][64];
    for (size_t i = 0; i < STATUS_JOBS; i++) {
        snprintf(name[i], sizeof name[i], "status #%zu %s", i + 1, STATUS_IDS[i % 6]);
        all[count] = (struct expected){name[i], NULL,
                                       i % 6 == 5 ? CAMB_RESULT_NOT_FOUND : CAMB_RESULT_OK, 0};
        CHECK_RESULT(camb_client_job_get_task_status(client, STATUS_IDS[i % 6], &all[count].job),
                     CAMB_RESULT_OK);
        count++;
    }
    camb_create_options options = camb_create_options_default();
    options.duration_s = 1;
    all[count] = (struct expected){"create", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_create_task(client, "a door [pending_ms:0]", &options,
                                             &all[count++].job),
                 CAMB_RESULT_OK);
    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 100;
    wait.deadline_ms = 30000;
    all[count] = (struct expected){"wait", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_wait_for_task(client, "demo-success", &wait, &all[count++].job),
                 CAMB_RESULT_OK);
    all[count] = (struct expected){"download", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_download_audio(client, 4242, &all[count++].job), CAMB_RESULT_OK);
    wchar_t *save_w = wjoin(work_dir, L"\\job-save.wav", NULL);
    char *save_path = utf8_of(save_w);
    all[count] = (struct expected){"save", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_save_audio(client, reference_run, save_path, &all[count++].job),
                 CAMB_RESULT_OK);
    wchar_t *generate_w = wjoin(work_dir, L"\\job-generate.wav", NULL);
    char *generate_path = utf8_of(generate_w);
    all[count] = (struct expected){"generate", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_generate(client, "a bell [pending_ms:300]", &options, &wait,
                                          generate_path, &all[count++].job),
                 CAMB_RESULT_OK);
    all[count] = (struct expected){"audio url", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_get_audio_url(client, 4242, &all[count++].job), CAMB_RESULT_OK);
    const char *const batch_ids[2] = {"demo-success", "no-such-task-batch"};
    all[count] = (struct expected){"batch", NULL, CAMB_RESULT_OK, 0};
    CHECK_RESULT(camb_client_job_get_task_statuses(client, batch_ids, 2, 0, &all[count++].job),
                 CAMB_RESULT_OK);
    /* A wait on a task that never finishes, cancelled at once. */
    all[count] = (struct expected){"cancelled wait", NULL, CAMB_RESULT_CANCELLED, 0};
    CHECK_RESULT(camb_client_job_wait_for_task(client, "demo-pending", &wait, &all[count++].job),
                 CAMB_RESULT_OK);

    for (size_t i = 0; i < count; i++) {
        CHECK_RESULT(camb_job_submit(all[i].job, queue, &all[i]), CAMB_RESULT_OK);
    }
    CHECK_RESULT(camb_job_cancel(all[count - 1].job), CAMB_RESULT_OK);

    size_t delivered = 0;
    unsigned wakeups = 0;
    while (delivered < count) {
        int n = poll_ready(sock, 30000);
        if (n == 0) {
            for (size_t i = 0; i < count; i++) {
                if (!all[i].delivered) {
                    fprintf(stderr, "  not delivered: %s\n", all[i].what);
                }
            }
        }
        CHECK(n == 1, "no job came back within 30 s (%zu of %zu delivered)", delivered, count);
        wakeups++;
        size_t taken = 0;
        while (camb_queue_pop(queue, &event, &popped) == CAMB_RESULT_OK) {
            struct expected *e = camb_job_user_data(popped);
            CHECK(event == CAMB_EVENT_JOB_DONE, "event %u", (unsigned)event);
            CHECK(e >= all && e < all + count && e->job == popped,
                  "a job came back with user data %p that is not its own", (void *)e);
            CHECK(e->delivered == 0, "job %s was delivered twice", e->what);
            e->delivered = 1;
            check_job(all, (size_t)(e - all), save_path, reference_len);
            camb_job_free(popped);
            delivered++;
            taken++;
        }
        CHECK(taken > 0, "the handle was readable with no event to take");
    }
    CHECK(poll_ready(sock, 0) == 0, "readable once every job was taken");
    printf("%zu jobs delivered in %u wakeups\n", count, wakeups);

    /* camb_queue_wait, for a program without an event loop. */
    CHECK_RESULT(camb_queue_wait(queue, 100, &event, &popped), CAMB_RESULT_TIMEOUT);
    camb_job *waited_job = NULL;
    CHECK_RESULT(camb_client_job_get_task_status(client, "demo-success", &waited_job),
                 CAMB_RESULT_OK);
    CHECK_RESULT(camb_job_submit(waited_job, queue, NULL), CAMB_RESULT_OK);
    CHECK_RESULT(camb_queue_wait(queue, 20000, &event, &popped), CAMB_RESULT_OK);
    CHECK(popped == waited_job && camb_job_result(popped) == CAMB_RESULT_OK,
          "camb_queue_wait gave another job, or %s", camb_result_name(camb_job_result(popped)));
    camb_job_free(popped);
    CHECK(poll_ready(sock, 0) == 0, "readable once camb_queue_wait took the event");

    camb_queue_free(queue);
    free(generate_path);
    free(generate_w);
    free(save_path);
    free(save_w);
}

/* ---------------------------------------------------------------- speech */

/* What the speech callback has seen. */
struct heard {
    unsigned char *audio;
    size_t len, cap;
    uint32_t sample_rate;
    bool counted; /* info->bytes always counted the chunk just handed over */
};

static bool hear(const uint8_t *data, size_t len, const camb_speech_info *info, void *user_data) {
    struct heard *h = user_data;
    if (h->len + len > h->cap) {
        h->cap = (h->len + len) * 2;
        h->audio = realloc(h->audio, h->cap);
        CHECK(h->audio != NULL, "out of memory");
    }
    memcpy(h->audio + h->len, data, len);
    h->len += len;
    h->counted = h->counted && info->bytes == h->len;
    h->sample_rate = info->sample_rate;
    return true;
}

static void check_speech(camb_client *client) {
    section("speech");
    camb_speech_options options = camb_speech_options_default();
    options.speech_model = "mars-flash";
    camb_speech_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;

    /* Blocking, to a callback. */
    struct heard h = {NULL, 0, 0, 0, true};
    CHECK_RESULT(camb_client_speak(client, "Hello from Windows.", "en-us", 147320, &options, NULL,
                                   hear, &h, &info),
                 CAMB_RESULT_OK);
    CHECK(h.counted, "info->bytes did not count each chunk");
    CHECK(h.len > 44 && memcmp(h.audio, "RIFF", 4) == 0, "no WAV came (%zu bytes)", h.len);
    CHECK(h.sample_rate == 22050 && info.sample_rate == 22050 && info.channels == 1,
          "rate %" PRIu32 ", channels %" PRIu32, info.sample_rate, info.channels);
    CHECK(info.bytes == h.len && info.has_credits && info.credits >= 1,
          "info: %" PRIu64 " bytes, credits %d %f", info.bytes, (int)info.has_credits,
          info.credits);
    CHECK(strcmp(info.format, "wav") == 0, "format %s", info.format);

    /* Saved, with the sizes a streamed WAV lacks. */
    wchar_t *path_w = wjoin(work_dir, L"\\hello.wav", NULL);
    char *path = utf8_of(path_w);
    CHECK_RESULT(camb_client_speak_to_file(client, "Hello from Windows.", "en-us", 147320,
                                           &options, path, NULL, &info),
                 CAMB_RESULT_OK);
    size_t saved_len = 0;
    unsigned char *saved = read_file_w(path_w, &saved_len);
    check_wav(saved, saved_len, "hello.wav");
    CHECK(saved_len == h.len && memcmp(saved + 44, h.audio + 44, h.len - 44) == 0,
          "the saved speech differs from the streamed one");
    free(saved);

    /* A locale the model lacks: the server's list of those it has. */
    CHECK_RESULT(camb_client_speak(client, "Hello from Windows.", "zh-tw", 147320, &options, NULL,
                                   hear, &h, NULL),
                 CAMB_RESULT_VALIDATION);
    CHECK(strstr(camb_last_error(), "en-us") != NULL, "no allowed list: %s", camb_last_error());

    /* A speech job, read on CAMB_EVENT_JOB_DATA events seen by WSAPoll. */
    camb_queue *queue = NULL;
    CHECK_RESULT(camb_queue_new(&queue), CAMB_RESULT_OK);
    SOCKET sock = (SOCKET)camb_queue_fd(queue);
    camb_job *job = NULL;
    CHECK_RESULT(camb_client_job_speak(client, "Hello from Windows.", "en-us", 147320, &options,
                                       &job),
                 CAMB_RESULT_OK);
    CHECK_RESULT(camb_job_submit(job, queue, NULL), CAMB_RESULT_OK);
    unsigned char *heard = malloc(h.len + 1);
    CHECK(heard != NULL, "out of memory");
    size_t got = 0;
    unsigned data_events = 0;
    bool done = false;
    while (!done) {
        CHECK(poll_ready(sock, 20000) == 1, "no event within 20 s");
        camb_event event;
        camb_job *popped = NULL;
        while (camb_queue_pop(queue, &event, &popped) == CAMB_RESULT_OK) {
            CHECK(popped == job, "an event of another job");
            data_events += event == CAMB_EVENT_JOB_DATA;
            done = done || event == CAMB_EVENT_JOB_DONE;
            size_t read = 0;
            do {
                CHECK(got <= h.len, "more audio than the blocking call got");
                CHECK_RESULT(camb_job_read_audio(job, heard + got, h.len + 1 - got, &read),
                             CAMB_RESULT_OK);
                got += read;
            } while (read > 0);
        }
    }
    CHECK(data_events > 0, "no CAMB_EVENT_JOB_DATA came");
    CHECK_RESULT(camb_job_result(job), CAMB_RESULT_OK);
    CHECK(got == h.len && memcmp(heard + 44, h.audio + 44, got - 44) == 0,
          "the job read %zu bytes, the blocking call got %zu", got, h.len);
    printf("speech job: %zu bytes in %u data events\n", got, data_events);
    camb_job_free(job);
    camb_queue_free(queue);
    free(heard);
    free(h.audio);
    free(path);
    free(path_w);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    base_url = argc > 1 ? argv[1] : getenv("CAMB_BASE_URL");
    api_key = argc > 2 ? argv[2] : getenv("CAMB_API_KEY");
    if (argc > 4 || base_url == NULL || api_key == NULL || base_url[0] == '\0' ||
        api_key[0] == '\0') {
        fprintf(stderr, "usage: %s [BASE_URL [API_KEY [COPY_DIR]]]\n"
                        "(BASE_URL and API_KEY default to CAMB_BASE_URL and CAMB_API_KEY)\n",
                argv[0]);
        return 2;
    }
    /* Unbuffered: a crash still shows how far the program got. */
    setvbuf(stdout, NULL, _IONBF, 0);
    wchar_t *copy_dir = NULL;
    if (argc > 3) {
        int size = MultiByteToWideChar(CP_ACP, 0, argv[3], -1, NULL, 0);
        copy_dir = malloc((size_t)size * sizeof *copy_dir);
        CHECK(copy_dir != NULL, "out of memory");
        MultiByteToWideChar(CP_ACP, 0, argv[3], -1, copy_dir, size);
    }

    WSADATA wsa;
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0, "WSAStartup failed");
    parse_base_url(base_url);
    int reset = control_post("/_emulator/reset", "");
    CHECK(reset == 204, "POST /_emulator/reset gave HTTP %d: is %s the emulator?", reset,
          base_url);

    check_version();
    camb_client *client = make_client(base_url, api_key, 20000, 2);
    check_status(client);
    work_dir = make_work_dir();
    check_workflow(client, copy_dir);
    check_replace(client);
    check_refusals(client);
    check_errors(client);
    check_jobs(client);
    check_speech(client);
    camb_client_free(client);

    section("cleanup");
    CHECK(SetCurrentDirectoryW(L"C:\\"), "cannot leave the work directory");
    wchar_t *verbatim = wjoin(L"\\\\?\\", work_dir, NULL);
    remove_tree(verbatim);
    CHECK(!exists_w(verbatim), "the work directory is still there");
    free(verbatim);
    free(work_dir);
    free(reference);
    free(copy_dir);
    WSACleanup();
    printf("ok: %s (%lu checks)\n", section_name, checks_passed - section_start);
    printf("conformance: PASS (%lu checks)\n", checks_passed);
    return 0;
}
