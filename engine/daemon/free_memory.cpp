#include "engine/daemon/free_memory.h"

#include <malloc.h>

// gperftools' C entry point, declared weak so that only a program linked
// with tcmalloc resolves it; without, it is null.
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

namespace kubenat {

void release_free_memory() {
  if (MallocExtension_ReleaseFreeMemory != nullptr) {
    MallocExtension_ReleaseFreeMemory();
  } else {
    malloc_trim(0);
  }
}

}  // namespace kubenat
