// --version, the same on every binary: "<binary> <project version> (<git commit>)", the commit
// being the one the sources were at when built ("-dirty" if they had uncommitted changes,
// "unknown commit" outside a git checkout).
#pragma once

#include <string>

namespace ballot {

std::string version_line(const std::string& binary);
// The project version alone ("0.1.0"), as INFO's `version` reports it.
std::string project_version();
// The malloc this process runs on, as INFO's `mem_allocator` reports it (Redis's field):
// "jemalloc-<version>" when jemalloc is linked in (ballot-server), "libc" otherwise.
std::string mem_allocator();

}  // namespace ballot
