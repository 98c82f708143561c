/*
 * bench/min_empty.c: the baseline for the RSS figures: a C program that links only
 * libc and does nothing but report its peak RSS (ru_maxrss, KiB).
 */
#include <stdio.h>
#include <sys/resource.h>

int main(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
