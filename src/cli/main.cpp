// Placeholder until the CLI lands.
#include <cstdio>
int main() {
  std::fprintf(stderr, "remora: not built yet\n");
  return 2;
}
