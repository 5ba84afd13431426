// Placeholder until the front end lands: remora-gen refuses to run rather than emit anything partial.
#include <cstdio>
int main() {
  std::fprintf(stderr, "remora-gen: not built yet (front end missing)\n");
  return 2;
}
