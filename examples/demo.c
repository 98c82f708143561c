/*
 * demo: turn a text prompt into a WAV file with CAMB.AI's text-to-sound API.
 *
 *   usage: demo [--base-url URL] [--out FILE] [--duration SECONDS] [--music] PROMPT...
 *
 * Creates a task, waits for it with a progress line per poll, and saves the
 * audio. The API key comes from CAMB_API_KEY. The base URL comes from --base-url,
 * else CAMB_BASE_URL, else the real service (https://client.camb.ai/apis).
 * `make demo` runs it against the local emulator.
 *
 * Exit status: 0 when the WAV file was saved, 1 when the task or a call failed,
 * 2 on bad usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camb.h"

static int fail(const char *what, camb_result result) {
    fprintf(stderr, "demo: %s failed: %s: %s\n", what, camb_result_name(result), camb_last_error());
    return 1;
}

/* Called by libcamb after every poll: one line each, so a log shows the history. */
static bool on_progress(const camb_wait_progress *progress, void *user_data) {
    (void)user_data;
    if (progress->poll_result == CAMB_RESULT_OK) {
        printf("  [%5.1f s] poll %" PRIu32 ": %.*s", progress->elapsed_ms / 1000.0, progress->polls,
               (int)progress->status_text_len, progress->status_text);
    } else {
        printf("  [%5.1f s] poll %" PRIu32 " failed, will retry: %.*s",
               progress->elapsed_ms / 1000.0, progress->polls, (int)progress->error_message_len,
               progress->error_message);
    }
    if (!progress->done) {
        printf(" (next poll in %.1f s)", progress->next_poll_in_ms / 1000.0);
    }
    printf("\n");
    fflush(stdout);
    return true; /* keep waiting */
}

static int usage(const char *program) {
    fprintf(stderr,
            "usage: %s [--base-url URL] [--out FILE] [--duration SECONDS] [--music] PROMPT...\n"
            "(the API key is read from CAMB_API_KEY)\n",
            program);
    return 2;
}

int main(int argc, char **argv) {
    const char *base_url = getenv("CAMB_BASE_URL");
    const char *out_path = "camb-demo.wav";
    camb_create_options options = camb_create_options_default();
    char prompt[4096] = "";

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--base-url") == 0 && i + 1 < argc) {
            base_url = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
            options.duration_s = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--music") == 0) {
            options.audio_type = CAMB_AUDIO_TYPE_MUSIC;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return usage(argv[0]);
        } else {
            /* The remaining words are the prompt. */
            if (strlen(prompt) + strlen(argv[i]) + 2 > sizeof prompt) {
                fprintf(stderr, "demo: the prompt is too long\n");
                return 2;
            }
            if (prompt[0] != '\0') {
                strcat(prompt, " ");
            }
            strcat(prompt, argv[i]);
        }
    }
    if (prompt[0] == '\0') {
        return usage(argv[0]);
    }

    camb_client_builder *builder = camb_client_builder_new();
    if (builder == NULL) {
        fprintf(stderr, "demo: out of memory\n");
        return 1;
    }
    if (base_url != NULL && base_url[0] != '\0') {
        camb_result result = camb_client_builder_set_base_url(builder, base_url);
        if (result != CAMB_RESULT_OK) {
            camb_client_builder_free(builder);
            fail("setting the base URL", result);
            return 2;
        }
    }
    camb_client *client = NULL;
    camb_result result = camb_client_builder_build(builder, &client); /* consumes builder */
    if (result != CAMB_RESULT_OK) {
        return fail("creating the client", result);
    }
    printf("API: %s\n", base_url != NULL && base_url[0] != '\0' ? base_url : "https://client.camb.ai/apis");

    int exit_status = 1;
    char *task_id = NULL; /* ours: freed with camb_string_free() */
    camb_task *task = NULL; /* ours: freed with camb_task_free() */
    result = camb_client_create_task(client, prompt, &options, NULL, &task_id, NULL);
    if (result != CAMB_RESULT_OK) {
        exit_status = fail("creating the task", result);
        goto done;
    }
    printf("created task %s for \"%s\"\n", task_id, prompt);

    camb_wait_options wait = camb_wait_options_default();
    wait.initial_interval_ms = 500; /* short, for a demo; CAMB advises 2-5 s in production */
    wait.max_interval_ms = 5000;
    wait.deadline_ms = 5 * 60 * 1000;
    result = camb_client_wait_for_task(client, task_id, &wait, NULL, on_progress, NULL, &task);
    if (result != CAMB_RESULT_OK) {
        exit_status = fail("waiting for the task", result);
        goto done;
    }
    if (camb_task_status(task) != CAMB_STATUS_SUCCESS) {
        /* ERROR, TIMEOUT, PAYMENT_REQUIRED or a status this version does not know. */
        size_t len = 0;
        const char *text = camb_task_status_text(task, &len);
        fprintf(stderr, "demo: the task ended in %.*s", (int)len, text);
        const char *reason = camb_task_exception_reason(task, &len);
        if (reason != NULL) {
            fprintf(stderr, " (%.*s)", (int)len, reason);
        }
        const char *message = camb_task_message(task, &len);
        if (message != NULL) {
            fprintf(stderr, ": %.*s", (int)len, message);
        }
        fprintf(stderr, "\n");
        goto done;
    }
    int64_t run_id = 0;
    if (!camb_task_run_id(task, &run_id)) {
        fprintf(stderr, "demo: the task succeeded but the server gave no run id\n");
        goto done;
    }

    uint64_t bytes = 0;
    result = camb_client_save_audio(client, run_id, out_path, NULL, &bytes);
    if (result != CAMB_RESULT_OK) {
        exit_status = fail("saving the audio", result);
        goto done;
    }
    printf("saved run %" PRId64 " to %s (%" PRIu64 " bytes)\n", run_id, out_path, bytes);
    exit_status = 0;

done:
    camb_task_free(task); /* NULL is a no-op */
    camb_string_free(task_id);
    camb_client_free(client);
    return exit_status;
}
