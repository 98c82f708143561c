/*
 * jobs_epoll: many libcamb calls in flight from one thread that never blocks on
 * them: an epoll loop, as in a server, a game engine or a GUI.
 *
 *   usage: jobs_epoll BASE_URL WAV_PATH [--statuses N] [--threads N] [--prompt TEXT]
 *                     [--duration SECONDS] [--timeout-s SECONDS]
 *
 * The API key is read from CAMB_API_KEY. BASE_URL is a camb-emulator's URL: the
 * status jobs ask for its demo tasks, whose statuses must already be final (run
 * it with --pending-ms 0, as the tests and scripts/memcheck.sh do).
 *
 * Each job is made by a camb_client_job_* function and submitted with
 * camb_job_submit() to one queue (camb_queue), with this program's record of
 * it as user_data. The queue's readiness handle (camb_queue_fd()) is registered
 * with epoll; the loop sleeps in epoll_wait until it is readable (some jobs
 * finished), takes every event with camb_queue_pop() until it says
 * CAMB_RESULT_NOT_READY, finds the record with camb_job_user_data(), checks and
 * reports the job, and frees it. No code of this program runs on libcamb's
 * threads, and every libcamb call made here returns at once.
 *
 * Started at once, before the loop:
 *   - one generate job: PROMPT (default "rain on a tin roof") to a WAV file at
 *     WAV_PATH (create the task, wait for it, save its audio);
 *   - --statuses N status jobs (default 50): the emulator's demo tasks in turn
 *     (demo-success, demo-error, demo-timeout, demo-payment-required,
 *     demo-unknown, demo-pending) and, once, in the middle, an id that does not
 *     exist (CAMB_RESULT_NOT_FOUND).
 * While the generate job runs, a progress line every 100 ms (when something
 * changed): its state, the polls it made and the last status they saw, read with
 * camb_job_get_state(), camb_job_polls() and camb_job_task_status().
 *
 * Output: a line per finished job ("done: ..."), the progress lines
 * ("progress: ..."), and a summary ("jobs_epoll: ... PASS|FAIL"). Anything that
 * is not what the API and the emulator promise is reported on stderr
 * ("unexpected: ...").
 *
 * --timeout-s (default 120) bounds the generation's wait (its job then fails
 * with CAMB_RESULT_TIMEOUT); the loop waits 30 s longer for every job to be
 * delivered, then cancels those that were not (freeing the queue frees them).
 *
 * Exit status: 0 when every job finished as expected (the WAV file saved),
 * 1 when anything was unexpected or the loop ran out of time, 2 on bad usage or
 * setup failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

/* ---------------------------------------------------------------- what to expect */

/* What a status job for a demo task must report. */
struct expected {
    const char *task_id;
    camb_result result;
    uint16_t http_status; /* of a failed job; 0 otherwise */
    camb_status status;
    const char *status_text;    /* NULL: no status */
    const char *exception_reason; /* NULL: none */
};

static const struct expected DEMO_TASKS[] = {
    {"demo-success", CAMB_RESULT_OK, 0, CAMB_STATUS_SUCCESS, "SUCCESS", NULL},
    {"demo-error", CAMB_RESULT_OK, 0, CAMB_STATUS_ERROR, "ERROR", "PROCESSING_ERROR"},
    {"demo-timeout", CAMB_RESULT_OK, 0, CAMB_STATUS_TIMEOUT, "TIMEOUT", NULL},
    {"demo-payment-required", CAMB_RESULT_OK, 0, CAMB_STATUS_PAYMENT_REQUIRED, "PAYMENT_REQUIRED",
     "PAYMENT_REQUIRED"},
    {"demo-unknown", CAMB_RESULT_OK, 0, CAMB_STATUS_UNKNOWN, "QUEUED_FOR_GPU", NULL},
    {"demo-pending", CAMB_RESULT_OK, 0, CAMB_STATUS_PENDING, "PENDING", NULL},
};
enum { DEMO_TASK_COUNT = sizeof DEMO_TASKS / sizeof DEMO_TASKS[0] };

static const struct expected MISSING_TASK = {
    "no-such-task-jobs-epoll", CAMB_RESULT_NOT_FOUND, 404, CAMB_STATUS_UNKNOWN, NULL, NULL};

/* ---------------------------------------------------------------- the jobs */

enum job_kind { JOB_STATUS, JOB_GENERATE };

/*
 * Our record of a job, given to camb_job_submit() as its user_data:
 * camb_job_user_data() hands it back when the job comes off the queue.
 */
struct record {
    camb_job *job; /* NULL once freed */
    enum job_kind kind;
    const struct expected *want; /* status jobs */
    bool delivered;
};

static unsigned long g_unexpected;

static void unexpected(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("unexpected: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    g_unexpected++;
}

/* The job's error text ("" when it has none), for a report line. */
static const char *error_of(const camb_job *job) {
    const char *text = camb_job_error(job, NULL);
    return text != NULL ? text : "";
}

/* Checks a finished status job against what its task must say; one report line. */
static void report_status_job(int index, const struct record *record) {
    const camb_job *job = record->job;
    const struct expected *want = record->want;
    camb_result result = camb_job_result(job);
    uint16_t http = camb_job_http_status(job);
    size_t len = 0;
    const char *error = camb_job_error(job, &len);
    const camb_task *task = camb_job_task(job);

    if (result != want->result) {
        unexpected("status job #%d (%s): %s, want %s: %s", index, want->task_id,
                   camb_result_name(result), camb_result_name(want->result), error_of(job));
    }
    if (http != want->http_status) {
        unexpected("status job #%d (%s): HTTP status %u, want %u", index, want->task_id,
                   (unsigned)http, (unsigned)want->http_status);
    }
    /* Status jobs make no polls and move no bytes; their status is the task's. */
    camb_status want_status = task != NULL ? camb_task_status(task) : CAMB_STATUS_UNKNOWN;
    if (camb_job_polls(job) != 0 || camb_job_task_status(job) != want_status ||
        camb_job_bytes(job) != 0) {
        unexpected("status job #%d (%s): polls %" PRIu32 ", status %s, bytes %" PRIu64, index,
                   want->task_id, camb_job_polls(job), camb_status_name(camb_job_task_status(job)),
                   camb_job_bytes(job));
    }
    if (camb_job_task_list(job) != NULL) {
        unexpected("status job #%d (%s): it has a task list", index, want->task_id);
    }

    if (result != CAMB_RESULT_OK) {
        if (error == NULL || len != strlen(error) || strstr(error, want->task_id) == NULL) {
            unexpected("status job #%d (%s): its error does not name the task: \"%s\"", index,
                       want->task_id, error_of(job));
        }
        if (task != NULL) {
            unexpected("status job #%d (%s): a failed job has a task", index, want->task_id);
        }
        printf("done: #%02d status %s -> %s (HTTP %u): %s\n", index, want->task_id,
               camb_result_name(result), (unsigned)http, error_of(job));
        return;
    }

    if (error != NULL) {
        unexpected("status job #%d (%s): a successful job has an error: \"%s\"", index,
                   want->task_id, error);
    }
    const char *id = camb_job_task_id(job, &len);
    if (id == NULL || len != strlen(want->task_id) || strcmp(id, want->task_id) != 0) {
        unexpected("status job #%d: its task id is \"%s\", want \"%s\"", index,
                   id != NULL ? id : "(NULL)", want->task_id);
    }
    if (task == NULL) {
        unexpected("status job #%d (%s): no task", index, want->task_id);
        return;
    }
    camb_status status = camb_task_status(task);
    const char *text = camb_task_status_text(task, &len);
    const char *reason = camb_task_exception_reason(task, NULL);
    if (status != want->status || text == NULL || strcmp(text, want->status_text) != 0) {
        unexpected("status job #%d (%s): status %s (%s), want %s (%s)", index, want->task_id,
                   camb_status_name(status), text != NULL ? text : "none",
                   camb_status_name(want->status), want->status_text);
    }
    if ((reason == NULL) != (want->exception_reason == NULL) ||
        (reason != NULL && strcmp(reason, want->exception_reason) != 0)) {
        unexpected("status job #%d (%s): exception reason \"%s\", want \"%s\"", index,
                   want->task_id, reason != NULL ? reason : "(none)",
                   want->exception_reason != NULL ? want->exception_reason : "(none)");
    }
    int64_t run_id = 0;
    char run[48] = "";
    if (camb_task_run_id(task, &run_id)) {
        snprintf(run, sizeof run, " run_id=%" PRId64, run_id);
    }
    printf("done: #%02d status %s -> %s %s (%s)%s\n", index, want->task_id,
           camb_result_name(result), camb_status_name(status), text != NULL ? text : "none", run);
}

/* Checks the finished generate job and the file it saved; one report line. */
static void report_generate_job(const struct record *record, const char *path) {
    const camb_job *job = record->job;
    camb_result result = camb_job_result(job);
    if (result != CAMB_RESULT_OK) {
        unexpected("the generate job failed: %s (HTTP %u): %s", camb_result_name(result),
                   (unsigned)camb_job_http_status(job), error_of(job));
        printf("done: generate -> %s: %s\n", camb_result_name(result), error_of(job));
        return;
    }
    size_t id_len = 0;
    const char *task_id = camb_job_task_id(job, &id_len);
    const camb_task *task = camb_job_task(job);
    uint64_t bytes = camb_job_bytes(job);
    uint32_t polls = camb_job_polls(job);
    if (task_id == NULL || id_len == 0 || id_len != strlen(task_id)) {
        unexpected("the generate job has no task id");
    }
    if (task == NULL || camb_task_status(task) != CAMB_STATUS_SUCCESS ||
        !camb_task_run_id(task, NULL)) {
        unexpected("the generate job's task is not a success with a run id");
    }
    if (polls < 1 || camb_job_task_status(job) != CAMB_STATUS_SUCCESS) {
        unexpected("the generate job made %" PRIu32 " polls, the last saw %s", polls,
                   camb_status_name(camb_job_task_status(job)));
    }
    /* The file it saved: the size it reported, and a WAV file's first bytes. */
    struct stat st;
    char head[12] = {0};
    FILE *file = fopen(path, "rb");
    if (stat(path, &st) != 0 || file == NULL) {
        unexpected("the generate job reported success but %s cannot be read: %s", path,
                   strerror(errno));
    } else {
        if ((uint64_t)st.st_size != bytes || bytes <= 44) {
            unexpected("%s has %lld bytes; the job reported %" PRIu64, path,
                       (long long)st.st_size, bytes);
        }
        if (fread(head, 1, sizeof head, file) != sizeof head || memcmp(head, "RIFF", 4) != 0 ||
            memcmp(head + 8, "WAVE", 4) != 0) {
            unexpected("%s is not a WAV file", path);
        }
    }
    if (file != NULL) {
        fclose(file);
    }
    int64_t run_id = 0;
    camb_task_run_id(task, &run_id);
    printf("done: generate -> %s task %s %s run_id=%" PRId64 " polls=%" PRIu32 " bytes=%" PRIu64
           " saved to %s\n",
           camb_result_name(result), task_id != NULL ? task_id : "(none)",
           camb_status_name(camb_task_status(task)), run_id, polls, bytes, path);
}

/* ---------------------------------------------------------------- the loop */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *state_name(camb_job_state state) {
    switch (state) {
    case CAMB_JOB_STATE_NEW:
        return "NEW";
    case CAMB_JOB_STATE_QUEUED:
        return "QUEUED";
    case CAMB_JOB_STATE_RUNNING:
        return "RUNNING";
    case CAMB_JOB_STATE_WAITING:
        return "WAITING";
    case CAMB_JOB_STATE_DONE:
        return "DONE";
    default:
        return "?";
    }
}

static int usage(const char *program) {
    fprintf(stderr,
            "usage: %s BASE_URL WAV_PATH [--statuses N] [--threads N] [--prompt TEXT]\n"
            "       [--duration SECONDS] [--timeout-s SECONDS]\n"
            "(the API key is read from CAMB_API_KEY)\n",
            program);
    return 2;
}

static long parse_number(const char *flag, const char *text, long min, long max) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max) {
        fprintf(stderr, "jobs_epoll: %s needs a number from %ld to %ld, not \"%s\"\n", flag, min,
                max, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        return usage(argv[0]);
    }
    const char *base_url = argv[1];
    const char *wav_path = argv[2];
    const char *prompt = "rain on a tin roof";
    long statuses = 50, threads = 0, timeout_s = 120;
    double duration = 2.0;
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return usage(argv[0]);
        }
        if (strcmp(argv[i], "--statuses") == 0) {
            statuses = parse_number(argv[i], argv[i + 1], 1, 10000);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = parse_number(argv[i], argv[i + 1], 1, 64);
        } else if (strcmp(argv[i], "--prompt") == 0) {
            prompt = argv[i + 1];
        } else if (strcmp(argv[i], "--duration") == 0) {
            duration = strtod(argv[i + 1], NULL);
        } else if (strcmp(argv[i], "--timeout-s") == 0) {
            timeout_s = parse_number(argv[i], argv[i + 1], 1, 3600);
        } else {
            return usage(argv[0]);
        }
    }

    /* ------------------------------------------------------------ setup */
    camb_client_builder *builder = camb_client_builder_new();
    camb_result r = camb_client_builder_set_base_url(builder, base_url);
    if (r == CAMB_RESULT_OK && threads > 0) {
        r = camb_client_builder_set_job_threads(builder, (uint32_t)threads);
    }
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "jobs_epoll: %s: %s\n", camb_result_name(r), camb_last_error());
        camb_client_builder_free(builder);
        return 2;
    }
    camb_client *client = NULL;
    r = camb_client_builder_build(builder, &client); /* consumes the builder */
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "jobs_epoll: creating the client: %s: %s\n", camb_result_name(r),
                camb_last_error());
        return 2;
    }
    camb_queue *queue = NULL;
    r = camb_queue_new(&queue);
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "jobs_epoll: camb_queue_new: %s: %s\n", camb_result_name(r),
                camb_last_error());
        camb_client_free(client);
        return 2;
    }
    /* A descriptor on Linux (intptr_t so that a Windows SOCKET fits too). */
    int queue_fd = (int)camb_queue_fd(queue);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data = {.fd = queue_fd}};
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, queue_fd, &event) != 0) {
        fprintf(stderr, "jobs_epoll: epoll: %s\n", strerror(errno));
        if (epoll >= 0) {
            close(epoll);
        }
        camb_queue_free(queue);
        camb_client_free(client);
        return 2;
    }

    /* ------------------------------------------------------------ start */
    size_t total = (size_t)statuses + 1;
    struct record *records = calloc(total, sizeof *records);
    if (records == NULL) {
        fprintf(stderr, "jobs_epoll: out of memory\n");
        close(epoll);
        camb_queue_free(queue);
        camb_client_free(client);
        return 2;
    }
    size_t started = 0;
    int exit_status = 1;

    /* The generate job first, so that its progress shows while the others run. */
    camb_create_options create = camb_create_options_default();
    create.duration_s = duration;
    create.audio_type = CAMB_AUDIO_TYPE_SOUND;
    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 100; /* short, for a demo; CAMB advises 2-5 s */
    wait.max_interval_ms = 500;
    wait.deadline_ms = (uint64_t)timeout_s * 1000;
    struct record *generate = &records[0];
    generate->kind = JOB_GENERATE;
    r = camb_client_job_generate(client, prompt, &create, &wait, wav_path, &generate->job);
    if (r == CAMB_RESULT_OK) {
        r = camb_job_submit(generate->job, queue, generate);
    }
    if (r != CAMB_RESULT_OK) {
        fprintf(stderr, "jobs_epoll: starting the generate job: %s: %s\n", camb_result_name(r),
                camb_last_error());
        exit_status = 2;
        goto done;
    }
    started++;
    for (long i = 0; i < statuses; i++) {
        struct record *record = &records[started];
        record->kind = JOB_STATUS;
        record->want = i == statuses / 2 ? &MISSING_TASK : &DEMO_TASKS[i % DEMO_TASK_COUNT];
        r = camb_client_job_get_task_status(client, record->want->task_id, &record->job);
        if (r == CAMB_RESULT_OK) {
            r = camb_job_submit(record->job, queue, record);
        }
        if (r != CAMB_RESULT_OK) {
            fprintf(stderr, "jobs_epoll: starting status job %ld: %s: %s\n", i,
                    camb_result_name(r), camb_last_error());
            exit_status = 2;
            goto done;
        }
        started++;
    }
    printf("started %zu jobs: 1 generate (\"%s\" to %s), %ld status\n", started, prompt, wav_path,
           statuses);
    fflush(stdout);

    /* ------------------------------------------------------------ loop */
    size_t delivered = 0;
    unsigned long wakeups = 0, progress_lines = 0;
    /* The generation's wait ends by itself at --timeout-s (CAMB_RESULT_TIMEOUT);
     * the loop gives every job 30 s more to be delivered, then gives up. */
    int64_t deadline = now_ms() + ((int64_t)timeout_s + 30) * 1000;
    int64_t next_progress = now_ms();
    char last_progress[160] = "";
    while (delivered < started) {
        int64_t now = now_ms();
        if (now >= deadline) {
            break;
        }
        /* A progress line every 100 ms while the generate job runs (when it changed). */
        if (!generate->delivered && now >= next_progress) {
            char line[160];
            snprintf(line, sizeof line,
                     "progress: generate state=%s polls=%" PRIu32
                     " status=%s | %zu of %zu jobs done",
                     state_name(camb_job_get_state(generate->job)), camb_job_polls(generate->job),
                     camb_status_name(camb_job_task_status(generate->job)), delivered, started);
            if (strcmp(line, last_progress) != 0) {
                puts(line);
                fflush(stdout);
                strcpy(last_progress, line);
                progress_lines++;
            }
            next_progress = now + 100;
        }
        int64_t until = generate->delivered ? deadline : next_progress;
        int timeout = (int)(until - now > 0 ? until - now : 0);
        struct epoll_event ready;
        int n = epoll_wait(epoll, &ready, 1, timeout);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "jobs_epoll: epoll_wait: %s\n", strerror(errno));
            break;
        }
        if (n == 0) {
            continue; /* the timeout: a progress line is due */
        }
        wakeups++;
        /* Every event, until the queue is empty (the descriptor is then no longer
         * readable, so a level-triggered epoll does not wake again for them). */
        size_t popped = 0;
        camb_event what = 0;
        camb_job *job = NULL;
        while ((r = camb_queue_pop(queue, &what, &job)) == CAMB_RESULT_OK) {
            popped++;
            if (what != CAMB_EVENT_JOB_DONE) {
                /* No job of this version sends another event; the job stays libcamb's. */
                unexpected("the queue gave event %u", (unsigned)what);
                continue;
            }
            struct record *record = camb_job_user_data(job);
            if (record == NULL || record->job != job || record->delivered) {
                /* Not a handle we hold (or one delivered twice): never free it. */
                unexpected("the queue gave a job that is not waiting to be delivered (%p)",
                           (void *)job);
                continue;
            }
            record->delivered = true;
            delivered++;
            if (camb_job_get_state(job) != CAMB_JOB_STATE_DONE) {
                unexpected("a delivered job is in state %s", state_name(camb_job_get_state(job)));
            }
            camb_job_kind kind = record->kind == JOB_GENERATE ? CAMB_JOB_KIND_GENERATE
                                                              : CAMB_JOB_KIND_GET_TASK_STATUS;
            if (camb_job_get_kind(job) != kind) {
                unexpected("a delivered job is of kind %u, want %u",
                           (unsigned)camb_job_get_kind(job), (unsigned)kind);
            }
            if (record->kind == JOB_GENERATE) {
                report_generate_job(record, wav_path);
            } else {
                report_status_job((int)(record - records), record);
            }
            camb_job_free(job);
            record->job = NULL;
        }
        if (r != CAMB_RESULT_NOT_READY) {
            unexpected("camb_queue_pop: %s: %s", camb_result_name(r), camb_last_error());
        }
        if (popped == 0) {
            /* Readable means a finished job is waiting: only this thread pops. */
            unexpected("the queue's descriptor was readable but the queue was empty");
        }
        fflush(stdout);
    }

    if (delivered < started) {
        unexpected("%zu of %zu jobs were not delivered within %ld s", started - delivered, started,
                   timeout_s + 30);
    }
    printf("jobs_epoll: %zu jobs (%ld status, 1 generate), %zu delivered, %lu wakeups, "
           "%lu progress lines, %lu unexpected: %s\n",
           started, statuses, delivered, wakeups, progress_lines, g_unexpected,
           g_unexpected == 0 ? "PASS" : "FAIL");
    exit_status = g_unexpected == 0 ? 0 : 1;

done:
    /* Jobs not delivered: one never submitted is freed; one in flight (time ran
     * out) is only cancelled, and freeing the queue frees it once it ends. */
    for (size_t i = 0; i < total; i++) {
        camb_job_free(records[i].job);
    }
    free(records);
    /* The descriptor leaves the epoll set before the queue that owns it is freed. */
    epoll_ctl(epoll, EPOLL_CTL_DEL, queue_fd, NULL);
    close(epoll);
    camb_queue_free(queue);
    camb_client_free(client);
    return exit_status;
}
