#pragma once

// Hands the memory the process has freed back to the system, whichever
// allocator it runs on: tcmalloc's free pages when the program is linked
// with it (the kubenat program, tools/CMakeLists.txt), glibc's arenas
// otherwise (malloc_trim: the tests, the sanitizer builds).

namespace kubenat {

void release_free_memory();

}  // namespace kubenat
