/* Clocks. Parsers never read clocks: time is passed to them as a parameter. */
#ifndef COCOON_BASE_CLOCK_H
#define COCOON_BASE_CLOCK_H

#include <stdint.h>

/* Seconds since the Unix epoch (wall clock). */
int64_t clock_unix(void);
/* Wall clock in seconds with sub-second precision (timings reported to peers). */
double clock_unix_f(void);
/* Monotonic milliseconds and nanoseconds, for timeouts and benchmarks. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_ns(void);

#endif
