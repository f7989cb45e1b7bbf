/*
 * A stand-in bcryptprimitives.dll for running Tether's Windows binaries
 * under Wine 8 in tests. It is never shipped.
 *
 * Rust's std (1.78 and later) gets random bytes from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and later have and Wine 8 does
 * not, so every Rust program fails to load there. This DLL exports
 * ProcessPrng and fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which Wine implements over the host's random source.
 *
 * Built by test.sh: x86_64-w64-mingw32-gcc -shared -O2 -o
 * bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
