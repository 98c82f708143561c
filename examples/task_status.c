/*
 * task_status: print the status of one CAMB.AI text-to-sound task.
 *
 *   usage: task_status TASK_ID [BASE_URL]
 *
 * The API key is read from the environment variable CAMB_API_KEY. BASE_URL
 * defaults to https://client.camb.ai/apis; point it at the emulator
 * (camb-emulator prints its URL) to try it offline.
 *
 * Exit status: 0 when the status was read, 1 when the call failed, 2 on bad usage.
 */
#include <inttypes.h>
#include <stdio.h>

#include "camb.h"

/* Prints a string that libcamb returned with its length (it may be NULL). */
static void print_field(const char *label, const char *text, size_t len) {
    if (text != NULL) {
        printf("%s: %.*s\n", label, (int)len, text);
    }
}

static int fail(const char *what, camb_result result) {
    fprintf(stderr, "%s failed: %s: %s\n", what, camb_result_name(result), camb_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s TASK_ID [BASE_URL]\n(the API key is read from CAMB_API_KEY)\n",
                argv[0]);
        return 2;
    }

    camb_client_builder *builder = camb_client_builder_new();
    if (builder == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (argc == 3) {
        camb_result result = camb_client_builder_set_base_url(builder, argv[2]);
        if (result != CAMB_RESULT_OK) {
            camb_client_builder_free(builder);
            fail("setting the base URL", result);
            return 2;
        }
    }

    /* build always consumes the builder, whatever it returns */
    camb_client *client = NULL;
    camb_result result = camb_client_builder_build(builder, &client);
    if (result != CAMB_RESULT_OK) {
        return fail("creating the client", result);
    }

    /* The task is ours until camb_task_free(); its strings live as long as it does. */
    camb_task *task = NULL;
    result = camb_client_get_task_status(client, argv[1], NULL, &task);
    if (result != CAMB_RESULT_OK) {
        int status = fail("asking for the task's status", result);
        camb_client_free(client);
        return status;
    }

    size_t len = 0;
    const char *status_text = camb_task_status_text(task, &len);
    camb_status status = camb_task_status(task);
    printf("status: %s (%.*s)\n", camb_status_name(status), (int)len, status_text);
    int64_t run_id = 0;
    if (camb_task_run_id(task, &run_id)) {
        printf("run_id: %" PRId64 "\n", run_id);
    } else {
        printf("run_id: none\n");
    }
    const char *reason = camb_task_exception_reason(task, &len);
    print_field("exception_reason", reason, len);
    const char *message = camb_task_message(task, &len);
    print_field("message", message, len);
    printf("final: %s\n", camb_status_is_final(status) ? "yes" : "no");

    camb_task_free(task);
    camb_client_free(client);
    return 0;
}
