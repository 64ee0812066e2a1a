#pragma once

// How many malloc arenas the daemon's threads share. glibc gives a thread
// that finds the arenas busy one of its own, up to 8 per core, and memory
// freed into one arena is not reused by another: the informers decode on
// their threads what the sync loop then keeps and frees, so at 100,000
// Services the arenas held about 50 MB (10 %) more at the first sync's peak
// than one arena does (bench/README.md). The daemon's threads mostly wait,
// so they rarely contend for an arena.

namespace kubenat {

// What limit_malloc_arenas() did.
enum class MallocArenas {
  Limited,               // at most `arenas` from now on
  LeftToTheEnvironment,  // MALLOC_ARENA_MAX is set: the operator's choice stands
  Refused,               // mallopt() refused the limit
};

// Limits malloc to `arenas` arenas unless `environment_value` (the value of
// MALLOC_ARENA_MAX, nullptr when unset) says otherwise. Call before the
// daemon starts threads: arenas already made stay.
MallocArenas limit_malloc_arenas(int arenas, const char* environment_value);

}  // namespace kubenat
