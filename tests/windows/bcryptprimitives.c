/*
 * bcryptprimitives.dll for Wine only: never shipped with libcamb.
 *
 * Rust's standard library (since Rust 1.78) takes its random bytes (HashMap's seeds)
 * from ProcessPrng in bcryptprimitives.dll, which every Windows 10 and later has; so
 * camb.dll imports it. Wine 8.0 (Debian 12) has no bcryptprimitives.dll: without this
 * file beside the program, the loader fails before main() (STATUS_DLL_NOT_FOUND: Wine's
 * exit code is 53). This stand-in answers ProcessPrng with BCryptGenRandom, which Wine has.
 *
 *   x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 *
 * tests/windows.rs builds it next to the test programs. Under a Wine that has its own
 * bcryptprimitives.dll, this one (found first, beside the program) may stand in for it:
 * the bytes still come from the system's generator, so that is harmless.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
