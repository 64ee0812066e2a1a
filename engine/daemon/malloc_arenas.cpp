#include "engine/daemon/malloc_arenas.h"

#include <malloc.h>

namespace kubenat {

MallocArenas limit_malloc_arenas(int arenas, const char* environment_value) {
  if (environment_value != nullptr) return MallocArenas::LeftToTheEnvironment;
  return mallopt(M_ARENA_MAX, arenas) == 1 ? MallocArenas::Limited : MallocArenas::Refused;
}

}  // namespace kubenat
